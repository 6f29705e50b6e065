// Order statistics for repeated measurements: medians and spreads, never
// means (a noisy machine's outliers would drag a mean anywhere).
#pragma once

#include <optional>
#include <vector>

namespace lab {

struct Spread {
  double min = 0;
  double p25 = 0;
  double median = 0;
  double p75 = 0;
  double max = 0;
  // (p75 - p25) / median: the relative interquartile range.
  double rel_iqr = 0;
  int n = 0;
};

// Quantile q in [0, 1] with linear interpolation between order statistics
// (type 7, the default of R and numpy). `values` must not be empty.
double quantile(std::vector<double> values, double q);

// nullopt for an empty sample.
std::optional<Spread> spread_of(const std::vector<double>& values);

// Mann-Whitney U test, one-sided: the p-value of seeing samples at least
// this separated if `x` and `y` came from one distribution, against the
// alternative that `x` tends to be smaller than `y`. Exact (the full null
// distribution of U) when there are no ties and both samples have at most
// 30 values; otherwise the normal approximation with tie correction.
// Both samples must be non-empty.
double mann_whitney_p_less(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace lab
