#!/usr/bin/env python3
"""The drivers' JSON as the Markdown tables docs/benchmarks.md and README show.

    .venv/bin/python benchmarks/tables.py benchmarks/results/epoch-*.json ...

Each file's kind is read off its keys (bench_epoch, bench_scaling, bench_startup,
bench_handoff); every table starts with the line that says when, at what load and at how many
threads it was taken, so no figure is copied without them.
"""

from __future__ import annotations

import json
import sys

NAMES = {"scratchmlp@1": "scratchmlp, 1 thread", "scratchmlp-chapter": "scratchmlp, chapter form",
         "torch": "PyTorch eager", "numpy": "hand-fused NumPy (BLAS's own threads)",
         "numpy-chunks": "ceiling 1: hand-fused, data-parallel, same bytes at any threads",
         "numpy-columns": "ceiling 2: hand-fused, model-parallel, same bytes at any threads",
         "floor": "GEMM floor (BLAS's own threads)"}


def when(result, threads=None) -> str:
    before, after = result.get("machine_before", result.get("machine")), result.get("machine_after")
    load = f"load average {before['load']:.2f}" + (f" before / {after['load']:.2f} after"
                                                   if after else "")
    count = f"**{threads} thread(s)**, " if threads is not None else ""
    return f"{count}{before['date']}, {before['cpu']}, {before['cores']} cores, {load}"


def row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def epoch_tables(r) -> list:
    lines = [when(r, r["threads"]) + f", median of {r['rounds']} interleaved rounds", "",
             row("contender", "s/epoch", "fastest", "CPU s", "train examples/s",
                 "peak RSS (MB)", "test acc"), row(*["---"] * 7)]
    for kind, s in r["epoch"].items():
        acc = s["final"].get("test_acc")
        lines.append(row(NAMES.get(kind, kind), f"{s['median_s']:.3f}", f"{s['min_s']:.3f}",
                         f"{s['cpu_median_s']:.3f}", f"{s['examples_per_s']:,.0f}",
                         f"{s['peak_rss_mb']:.0f}", f"{acc:.4f}" if acc is not None else "-"))
    lines += ["", row("ratio (median of per-round ratios)", "wall", "CPU"), row(*["---"] * 3)]
    lines += [row(name, f"{value:.2f}", f"{r['cpu_ratios'][name]:.2f}")
              for name, value in r["ratios"].items()]
    if "busy" in r:
        busy = r["busy"]
        lines += ["", f"Busy machine: {busy['spinners']} spinning processes beside each epoch, "
                  f"median of {busy['rounds']} rounds:", "",
                  row("contender", "busy s/epoch", "quiet s/epoch", "× its quiet epoch",
                      "× scratchmlp's quiet 1-thread epoch", "busy CPU s", "quiet CPU s"),
                  row(*["---"] * 7)]
        lines += [row(NAMES.get(kind, kind), f"{b['busy_s']:.3f}", f"{b['idle_s']:.3f}",
                      f"{b['busy_vs_idle']:.2f}", f"{b['busy_vs_idle_scratchmlp_1_thread']:.2f}",
                      f"{b['busy_cpu_s']:.3f}", f"{b['idle_cpu_s']:.3f}")
                  for kind, b in busy["rows"].items()]
    return lines


def scaling_tables(r) -> list:
    lines = [when(r, r["threads"]), "", row("hidden", "batch", "GFLOP/epoch", "scratchmlp s",
                                             "floor s", "× floor (wall)", "× floor (CPU)"),
             row(*["---"] * 7)]
    lines += [row(t["hidden"], t["batch"], f"{t['gflop']:.1f}", f"{t['scratchmlp_s']:.3f}",
                  f"{t['floor_s']:.3f}", f"{t['vs_floor']:.2f}", f"{t['cpu_vs_floor']:.2f}")
              for t in r["table"]]
    return lines


def startup_lines(r) -> list:
    s = r["startup"]
    lines = [when(r) + f": `scratchmlp --help` median {s['help_s']:.3f} s (all: "
             + ", ".join(f"{x:.3f}" for x in s["help_all_s"])
             + f"); cached data load median {s['cached_load_s']:.3f} s."]
    jobs = r.get("jobs")
    if jobs:
        parts = [f"`{name}` peak RSS **{job['peak_rss_mb']:.0f} MB** (wall {job['wall_s']:.1f} s)"
                 for name, job in jobs.items() if isinstance(job, dict)]
        lines.append(f"Whole job, {jobs['epochs']} epochs: " + "; ".join(parts) + ".")
    return lines


def handoff_tables(r) -> list:
    lines = [when(r) + f", median of {r['calls']} calls of 256x784 @ 784x256", "",
             row("what", "µs"), row("---", "---")]
    lines += [row(key[:-3].replace("_", " "), f"{value:.0f}")
              for key, value in r.items() if key.endswith("_us") and value is not None]
    lines.append(row("calls in which the helper ran a chunk", f"{100 * r['helper_ran_a_chunk']:.0f}%"))
    return lines


def tables(result: dict) -> list:
    if "epoch" in result:
        return epoch_tables(result)
    if "table" in result:
        return scaling_tables(result)
    if "startup" in result:
        return startup_lines(result)
    if "helper_ran_a_chunk" in result:
        return handoff_tables(result)
    raise ValueError("not a benchmark result: none of epoch/table/startup/helper_ran_a_chunk")


def main(argv=None):
    for path in (argv if argv is not None else sys.argv[1:]):
        try:
            with open(path) as f:
                lines = tables(json.load(f))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            print(f"tables: {path}: cannot make tables of it ({type(e).__name__}: {e})",
                  file=sys.stderr)
            return 2
        print("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
