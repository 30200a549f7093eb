"""Run the benchmarks: every benchmarks/bench_<name>.py, or the ones named on the command line.

Each benchmark prints lines of the form ``bench <metric> <value> <unit>``; this runner passes
them through, runs each benchmark in its own process, and fails if one fails.
Usage: python benchmarks/run.py [name ...]     (make bench, make bench BENCH=dispatch)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    available = {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}
    wanted = names or list(available)
    unknown = [n for n in wanted if n not in available]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {sorted(available)}", file=sys.stderr)
        return 2
    failed = []
    for name in wanted:
        print(f"# {name}", flush=True)
        start = time.monotonic()
        proc = subprocess.run([sys.executable, str(available[name])], cwd=HERE.parent)
        print(f"# {name} finished in {time.monotonic() - start:.0f} s (exit {proc.returncode})", flush=True)
        if proc.returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
