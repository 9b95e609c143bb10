"""How fast the command line starts: `healthycity --help` and `healthycity compute --help`.

Target (issue 3): under 0.5 s each. Measured as wall time of a fresh interpreter, the
median of several runs, against a bare `python -c pass` as the floor.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 7


def wall(args: list[str]) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(args, capture_output=True, check=False)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    floor = wall([sys.executable, "-c", "pass"])
    print(f"python -c pass (floor)            {floor * 1000:7.1f} ms")
    for label, args in (
        ("healthycity --help", ["--help"]),
        ("healthycity compute --help", ["compute", "--help"]),
    ):
        seconds = wall([sys.executable, "-m", "healthycity", *args])
        verdict = "ok" if seconds < 0.5 else "OVER TARGET"
        print(f"{label:<33} {seconds * 1000:7.1f} ms  (target < 500 ms: {verdict})")


if __name__ == "__main__":
    main()
