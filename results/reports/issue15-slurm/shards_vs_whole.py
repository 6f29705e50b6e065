#!/usr/bin/python3
"""Issue 15's closing check: a merged sharded run against an unsharded run of
the same flags and binaries. Same cells (key, status, run count), and each
cell's ratio to the baseline compared with the runs' own noise.

    /usr/bin/python3 shards_vs_whole.py MERGED.json UNSHARDED.json > table.md

A cell's ratio is the file's summary (median over repetitions of the ratio
to the baseline's run in the same repetition); its noise is the
interquartile range of those per-repetition ratios over their median. The
two runs agree on a cell when the medians differ by no more than the larger
of the two relative IQRs; the Mann-Whitney U test (two-sided) on the
per-repetition ratios is given beside it.
"""
import json
import statistics
import sys

from scipy.stats import mannwhitneyu


def cells(path):
    data = json.load(open(path))
    return data, {(c["workload"], c["threads"], c["allocator"], c["mode"]): c for c in data["cells"]}


def rel_iqr(values):
    if len(values) < 2:
        return None
    q = statistics.quantiles(values, n=4, method="inclusive")
    return (q[2] - q[0]) / statistics.median(values)


def main():
    (merged, m), (whole, w) = cells(sys.argv[1]), cells(sys.argv[2])
    same_keys = m.keys() == w.keys()
    status_diff = [k for k in m.keys() & w.keys()
                   if (m[k]["status"], len(m[k]["runs"])) != (w[k]["status"], len(w[k]["runs"]))]
    print(f"- cells: {len(m)} merged, {len(w)} unsharded; same keys: {same_keys}; "
          f"status or run count differs: {len(status_diff)}")
    print(f"- baseline: {merged['config']['baseline']}; reps: {merged['config']['reps']}\n")
    print("| workload | t | allocator | mode | ratio merged | ratio unsharded | diff | IQR merged | IQR unsharded | "
          "within noise | MW p |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    within = compared = 0
    outside = []
    diffs = []
    for k in sorted(m.keys() & w.keys()):
        a, b = m[k]["summary"], w[k]["summary"]
        ra, rb = a.get("ratio_to_baseline"), b.get("ratio_to_baseline")
        if ra is None or rb is None or k[2] == merged["config"]["baseline"]:
            continue
        sa, sb = a.get("ratios_to_baseline_by_rep") or [], b.get("ratios_to_baseline_by_rep") or []
        ia, ib = rel_iqr(sa), rel_iqr(sb)
        diff = ra / rb - 1
        noise = max(x for x in (ia, ib, 0) if x is not None)
        ok = abs(diff) <= noise
        p = mannwhitneyu(sa, sb, alternative="two-sided").pvalue if len(sa) > 1 and len(sb) > 1 else float("nan")
        compared += 1
        within += ok
        diffs.append(abs(diff))
        if not ok:
            outside.append(k)
        print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {ra:.3f} | {rb:.3f} | {diff:+.1%} | "
              f"{ia:.1%} | {ib:.1%} | {'yes' if ok else '**no**'} | {p:.3f} |")
    q = statistics.quantiles(diffs, n=10, method="inclusive") if len(diffs) > 1 else [0] * 9
    print(f"\n- {within} of {compared} ratios within the runs' noise; |diff| median {statistics.median(diffs):.1%}, "
          f"90th percentile {q[8]:.1%}; outside: {', '.join('/'.join(map(str, k)) for k in outside) or 'none'}")
    # The files' own one-number summaries (geometric means of the cells' ratios).
    print("\n| allocator | mode | geomean ratio merged | geomean ratio unsharded | diff |")
    print("|---|---|---|---|---|")
    theirs = {(a["allocator"], a["mode"]): a for a in whole["summary"]["allocators"]}
    for a in merged["summary"]["allocators"]:
        b = theirs.get((a["allocator"], a["mode"]))
        ga, gb = a["geomean_ratio_to_baseline"], b and b["geomean_ratio_to_baseline"]
        if ga and gb:
            print(f"| {a['allocator']} | {a['mode']} | {ga:.3f} | {gb:.3f} | {ga / gb - 1:+.1%} |")
    return 0 if same_keys and not status_diff else 1


if __name__ == "__main__":
    sys.exit(main())
