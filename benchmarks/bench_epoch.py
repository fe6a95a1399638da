#!/usr/bin/env python3
"""One epoch of the chapter's MLP: scratchmlp against PyTorch eager, hand-fused NumPy and the
GEMM floor, on a quiet machine and on a busy one.

    .venv/bin/python benchmarks/bench_epoch.py              # 5 rounds + the busy-machine rows
    .venv/bin/python benchmarks/bench_epoch.py --quick      # 3 rounds, no busy rows
    .venv/bin/python benchmarks/bench_epoch.py --threads 1  # every contender on one thread

The contenders (benchmarks/contenders.py) run in their own processes (benchmarks/workers.py),
interleaved round by round; each round is printed as it ends. Every contender runs at
--threads (default: the cores this process may use); `scratchmlp@1` is scratchmlp at one
thread, the yardstick of the busy rows: with two busy processes spinning beside it, how long
does an epoch take against the idle one-thread epoch? Start-up and whole-job memory:
bench_startup.py; time against width and batch: bench_scaling.py. The targets these figures
are read against are in docs/benchmarks.md. The JSON goes to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workers  # noqa: E402 (beside this file)

N_TRAIN, N_TEST, HIDDEN, BATCH = 60000, 10000, 256, 256
PAIRS = [("torch", "scratchmlp"), ("scratchmlp", "floor"), ("scratchmlp", "numpy"),
         ("numpy", "floor"), ("scratchmlp-chapter", "floor"), ("scratchmlp", "scratchmlp@1"),
         ("numpy-chunks", "floor"), ("numpy-columns", "floor"), ("torch", "numpy-chunks"),
         ("torch", "numpy-columns"), ("scratchmlp", "numpy-columns")]


@contextlib.contextmanager
def busy_processes(count: int):
    """`count` processes that only spin (what other users' jobs look like to the scheduler)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.5)
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def busy_rows(started, idle, rounds, pause, spinners=2) -> dict:
    """The started workers' epochs beside `spinners` busy processes, against their idle epochs
    and against scratchmlp's idle one-thread epoch."""
    with busy_processes(spinners):
        epochs = workers.rounds_on(started, rounds, pause, label="busy ")
    one_thread = statistics.median(e["seconds"] for e in idle["scratchmlp@1"]["epochs"])
    rows = {}
    for kind, runs in epochs.items():
        seconds = statistics.median(e["seconds"] for e in runs)
        quiet = statistics.median(e["seconds"] for e in idle[kind]["epochs"])
        cpu = statistics.median(e["cpu_seconds"] for e in runs)
        quiet_cpu = statistics.median(e["cpu_seconds"] for e in idle[kind]["epochs"])
        rows[kind] = {"busy_s": seconds, "idle_s": quiet, "busy_vs_idle": seconds / quiet,
                      "busy_vs_idle_scratchmlp_1_thread": seconds / one_thread,
                      "busy_cpu_s": cpu, "idle_cpu_s": quiet_cpu,  # CPU spent spinning shows
                      "seconds": [e["seconds"] for e in runs]}
    return {"spinners": spinners, "rounds": rounds, "rows": rows}


def run(args) -> dict:
    with_torch = not args.skip_torch and workers.torch_available()
    if not with_torch and not args.skip_torch:
        print("note: torch does not import here, so PyTorch is left out "
              "(pip install 'scratchmlp[bench]' torch to include it)")
    kinds = ["scratchmlp", "scratchmlp@1", "scratchmlp-chapter"] + \
        (["torch"] if with_torch else []) + ["numpy", "numpy-chunks", "numpy-columns", "floor"]
    result = {"machine_before": workers.machine(), "threads": args.threads,
              "rounds": args.rounds, "hidden": HIDDEN, "batch": BATCH}
    print(f"epoch benchmark at {args.threads} thread(s): {', '.join(kinds)}; "
          f"{args.rounds} rounds", flush=True)
    started = workers.start_workers(kinds, HIDDEN, BATCH, args.threads)
    try:
        epochs = workers.rounds_on(started, args.rounds, args.pause)
        records = {w.kind: {"epochs": epochs[w.kind], "ready": w.ready} for w in started}
        if args.busy_rounds:
            busy = [w for w in started
                    if w.kind in ("scratchmlp", "torch", "numpy-columns", "floor")]
            result["busy"] = busy_rows(busy, records, args.busy_rounds, args.pause)
        for w in started:
            records[w.kind].update(w.close())
    finally:
        workers.stop_workers(started)
    result["epoch"] = workers.summarise(records, N_TRAIN, N_TEST, HIDDEN)
    result["blas"] = {kind: rec["ready"]["blas"] for kind, rec in records.items()}
    if with_torch:
        result["torch"] = {k: records["torch"]["ready"].get(k) for k in ("torch", "torch_threads")}
    pairs = [(a, b) for a, b in PAIRS if a in records and b in records]
    result["ratios"] = {f"{a}/{b}": workers.paired_ratio(records, a, b) for a, b in pairs}
    result["cpu_ratios"] = {f"{a}/{b}": workers.paired_ratio(records, a, b, "cpu_seconds")
                            for a, b in pairs}
    result["machine_after"] = workers.machine()
    return result


def print_report(result):
    before, after = result["machine_before"], result["machine_after"]
    print(f"\n== one epoch of 784-{result['hidden']}-10, batch {result['batch']} ({N_TRAIN} train "
          f"+ {N_TEST} test examples), median of {result['rounds']} interleaved rounds, "
          f"{result['threads']} thread(s)")
    print(f"   {before['cpu']}, {before['cores']} cores usable, {before['date']}, load average "
          f"{before['load']:.2f} before / {after['load']:.2f} after")
    print(f"{'contender':<20}{'s/epoch':>9}{'min':>8}{'CPU s':>8}{'train ex/s':>12}"
          f"{'GFLOP/s':>9}{'peak RSS MB':>13}{'test acc':>10}")
    for kind, s in result["epoch"].items():
        acc = s["final"].get("test_acc")
        print(f"{kind:<20}{s['median_s']:>9.3f}{s['min_s']:>8.3f}{s['cpu_median_s']:>8.3f}"
              f"{s['examples_per_s']:>12,.0f}{s['gflop_per_s']:>9.1f}{s['peak_rss_mb']:>13.0f}"
              f"{(f'{acc:.4f}' if acc is not None else '-'):>10}")
    print(f"ratios (median of per-round ratios)   {'wall':>8}{'CPU':>8}")
    for name, value in result["ratios"].items():
        print(f"  {name:<35}{value:>8.3f}{result['cpu_ratios'][name]:>8.3f}")
    if "busy" in result:
        busy = result["busy"]
        print(f"busy machine: {busy['spinners']} spinning processes beside each epoch, "
              f"median of {busy['rounds']} rounds")
        print(f"  {'contender':<18}{'busy s':>9}{'idle s':>9}{'x idle':>8}"
              f"{'x idle scratchmlp@1':>21}{'busy CPU s':>12}{'idle CPU s':>12}")
        for kind, row in busy["rows"].items():
            print(f"  {kind:<18}{row['busy_s']:>9.3f}{row['idle_s']:>9.3f}"
                  f"{row['busy_vs_idle']:>8.2f}{row['busy_vs_idle_scratchmlp_1_thread']:>21.2f}"
                  f"{row['busy_cpu_s']:>12.3f}{row['idle_cpu_s']:>12.3f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=workers.whole_number(1), default=5, help="interleaved epochs per contender")
    p.add_argument("--busy-rounds", type=workers.whole_number(0), default=3,
                   help="epochs beside two busy processes (0: none)")
    p.add_argument("--threads", type=workers.whole_number(1, 256), default=len(os.sched_getaffinity(0)),
                   help="threads of every contender (default: the cores this process may use)")
    p.add_argument("--pause", type=float, default=0.3, help="seconds between two epochs")
    p.add_argument("--quick", action="store_true", help="3 rounds, no busy rows")
    p.add_argument("--skip-torch", action="store_true")
    p.add_argument("--json", metavar="PATH",
                   help="where to write the JSON (default benchmarks/results/epoch-DATE.json)")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.busy_rounds = min(args.rounds, 3), 0
    result = run(args)
    print_report(result)
    workers.save_result(result, args.json, "epoch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
