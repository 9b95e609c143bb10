"""Run every benchmark in this folder, one after another, printing their figures.

`make bench` calls this. Each benchmark is a script that prints its own figures and
its ratios against the baseline its issue names; a failing one is reported, and the
others still run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    only = set(sys.argv[1:])
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not only or p.stem in only)
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False)
        print(f"--- {script.stem}: {time.perf_counter() - started:.1f} s", flush=True)
        if result.returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
