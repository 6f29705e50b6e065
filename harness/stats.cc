#include "harness/stats.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace lab {

double quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, values.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return values[below] + (values[above] - values[below]) * fraction;
}

std::optional<Spread> spread_of(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  Spread s;
  s.n = static_cast<int>(values.size());
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  s.p25 = quantile(values, 0.25);
  s.median = quantile(values, 0.5);
  s.p75 = quantile(values, 0.75);
  s.rel_iqr = s.median != 0 ? (s.p75 - s.p25) / s.median : 0;
  return s;
}

namespace {

// P(U >= u) under the null, where U counts pairs (x_i, y_j) with x_i < y_j,
// from the exact distribution: N(n1, n2, u), the number of orderings of n1
// x's and n2 y's with U = u, satisfies N(n1, n2, u) = N(n1 - 1, n2, u - n2)
// + N(n1, n2 - 1, u) (the largest value is an x, which precedes no y, or a
// y, which every x precedes).
double exact_upper_tail(int n1, int n2, int u) {
  std::vector<std::vector<std::vector<double>>> count(
      static_cast<size_t>(n1 + 1), std::vector<std::vector<double>>(static_cast<size_t>(n2 + 1)));
  for (int i = 0; i <= n1; ++i) {
    for (int j = 0; j <= n2; ++j) {
      std::vector<double>& c = count[i][j];
      c.assign(static_cast<size_t>(i * j + 1), 0.0);
      if (i == 0 || j == 0) {
        c[0] = 1;
        continue;
      }
      const std::vector<double>& without_x = count[i - 1][j];
      const std::vector<double>& without_y = count[i][j - 1];
      for (size_t v = 0; v < c.size(); ++v) {
        if (v >= static_cast<size_t>(j) && v - j < without_x.size()) c[v] += without_x[v - j];
        if (v < without_y.size()) c[v] += without_y[v];
      }
    }
  }
  const std::vector<double>& dist = count[n1][n2];
  double total = 0, tail = 0;
  for (size_t v = 0; v < dist.size(); ++v) {
    total += dist[v];
    if (static_cast<int>(v) >= u) tail += dist[v];
  }
  return tail / total;
}

}  // namespace

double mann_whitney_p_less(const std::vector<double>& x, const std::vector<double>& y) {
  const int n1 = static_cast<int>(x.size()), n2 = static_cast<int>(y.size());
  double u = 0;
  bool ties = false;
  for (double a : x) {
    for (double b : y) {
      if (a < b) u += 1;
      else if (a == b) {
        u += 0.5;
        ties = true;
      }
    }
  }
  if (!ties && n1 <= 30 && n2 <= 30) return exact_upper_tail(n1, n2, static_cast<int>(u));
  // Normal approximation, tie-corrected variance, continuity correction.
  std::map<double, int> tie_groups;
  for (double v : x) ++tie_groups[v];
  for (double v : y) ++tie_groups[v];
  double tie_term = 0;
  for (const auto& [value, t] : tie_groups) tie_term += static_cast<double>(t) * t * t - t;
  const double n = n1 + n2;
  const double mean = n1 * n2 / 2.0;
  const double variance = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1)));
  if (variance <= 0) return 1.0;
  const double z = (u - mean - 0.5) / std::sqrt(variance);
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

}  // namespace lab
