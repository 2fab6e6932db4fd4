"""`luacoder --help` wall time against `python -c pass`, with every installed plugin loaded.

Goal (issue 2): under 3x the bare interpreter start, i.e. a few hundred milliseconds at most.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def wall(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 5 if args.quick else 15
    cases = [
        ("python -c pass (baseline)", [sys.executable, "-c", "pass"]),
        ("python -c 'import click, pluggy, yaml'", [sys.executable, "-c", "import click, pluggy, yaml"]),
        ("luacoder --help", [sys.executable, "-m", "luacoder_core", "--help"]),
        ("luacoder plugins", [sys.executable, "-m", "luacoder_core", "plugins"]),
        ("luacoder data list", [sys.executable, "-m", "luacoder_core", "data", "list"]),
    ]
    plugins = subprocess.run([sys.executable, "-m", "luacoder_core", "plugins", "--json"],
                             capture_output=True, text=True).stdout
    results = [(name, statistics.median(wall(cmd, runs))) for name, cmd in cases]
    base = results[0][1]
    print("## CLI start-up (`luacoder --help`)\n")
    print(f"Median of {runs} runs each; plugins loaded: "
          f"{', '.join(p['name'] for p in __import__('json').loads(plugins)) or 'none'}.\n")
    print("| command | median wall (ms) | × `python -c pass` |")
    print("| --- | ---: | ---: |")
    for name, t in results:
        print(f"| {name} | {t * 1000:.0f} | {t / base:.2f} |")
    ratio = results[2][1] / base
    print(f"\nGoal: `luacoder --help` under 3× the bare interpreter: **{ratio:.2f}×** "
          f"({'met' if ratio < 3 else 'NOT met'}).\n")


if __name__ == "__main__":
    main()
