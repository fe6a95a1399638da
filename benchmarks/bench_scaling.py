#!/usr/bin/env python3
"""Time against work: scratchmlp's epoch beside the GEMM floor at other widths and batches.

    .venv/bin/python benchmarks/bench_scaling.py [--rounds 3] [--threads N] [--widths-only]

For each (hidden, batch) the two contenders run interleaved rounds (benchmarks/workers.py),
each printed as it ends. `x floor` is the median of per-round ratios; a least-squares line of
time against GFLOP over the widths (batch 256) shows whether a wider layer costs more per
GFLOP than the chapter's width does. Targets: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contenders  # noqa: E402 (beside this file)
import workers  # noqa: E402

N_TRAIN, N_TEST = 60000, 10000
SCALING = [(256, 256), (1024, 256), (4096, 256), (256, 64), (256, 1024)]


def measure(hidden, batch, rounds, threads, pause) -> dict:
    records = workers.run_rounds(["scratchmlp", "floor"], rounds, hidden, batch, threads, pause,
                                 label=f"h={hidden} b={batch} ")
    summary = workers.summarise(records, N_TRAIN, N_TEST, hidden)
    gflop = contenders.epoch_flops(N_TRAIN, N_TEST, hidden)["total"] / 1e9
    mine, floor = summary["scratchmlp"], summary["floor"]
    return {"hidden": hidden, "batch": batch, "gflop": gflop,
            "scratchmlp_s": mine["median_s"], "floor_s": floor["median_s"],
            "ms_per_gflop": 1e3 * mine["median_s"] / gflop,
            "vs_floor": workers.paired_ratio(records, "scratchmlp", "floor"),
            "cpu_vs_floor": workers.paired_ratio(records, "scratchmlp", "floor", "cpu_seconds"),
            "peak_rss_mb": mine["peak_rss_mb"]}


def linear_fit(points):
    """Least squares time = a + b * gflop over (gflop, seconds) points; returns a, b, R^2."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for _, y in points)
    ss_res = sum((y - a - b * x) ** 2 for x, y in points)
    return a, b, 1 - ss_res / ss_tot if ss_tot else 1.0


def width_fit(table) -> dict:
    widths = [row for row in table if row["batch"] == 256]
    if len(widths) < 2:
        return {}
    a, b, r2 = linear_fit([(row["gflop"], row["scratchmlp_s"]) for row in widths])
    per = [row["ms_per_gflop"] for row in widths]
    return {"intercept_s": a, "s_per_gflop": b, "r2": r2, "worst_vs_256": max(per) / per[0]}


def print_table(result):
    m = result["machine_before"]
    print(f"\n== scaling at {result['threads']} thread(s), {m['cpu']}, {m['date']}, load "
          f"{m['load']:.2f} before / {result['machine_after']['load']:.2f} after")
    print(f"{'hidden':>7}{'batch':>7}{'GFLOP':>8}{'scratchmlp s':>14}{'ms/GFLOP':>10}"
          f"{'floor s':>9}{'x floor':>9}{'CPU x floor':>13}")
    for row in result["table"]:
        print(f"{row['hidden']:>7}{row['batch']:>7}{row['gflop']:>8.1f}{row['scratchmlp_s']:>14.3f}"
              f"{row['ms_per_gflop']:>10.2f}{row['floor_s']:>9.3f}{row['vs_floor']:>9.2f}"
              f"{row['cpu_vs_floor']:>13.2f}")
    fit = result["width_fit"]
    if fit:
        print(f"widths: time = {fit['intercept_s']:.3f} s + {fit['s_per_gflop'] * 1e3:.2f} ms/GFLOP"
              f" * GFLOP, R^2 = {fit['r2']:.4f}; ms/GFLOP worst/256-wide {fit['worst_vs_256']:.2f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=workers.whole_number(1), default=3)
    p.add_argument("--threads", type=workers.whole_number(1, 256), default=len(os.sched_getaffinity(0)))
    p.add_argument("--pause", type=float, default=0.3)
    p.add_argument("--widths-only", action="store_true", help="batch 256 only")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    shapes = [s for s in SCALING if s[1] == 256 or not args.widths_only]
    result = {"machine_before": workers.machine(), "threads": args.threads,
              "rounds": args.rounds, "table": []}
    for hidden, batch in shapes:
        result["table"].append(measure(hidden, batch, args.rounds, args.threads, args.pause))
    result["machine_after"] = workers.machine()
    result["width_fit"] = width_fit(result["table"])
    print_table(result)
    workers.save_result(result, args.json, "scaling")
    return 0


if __name__ == "__main__":
    sys.exit(main())
