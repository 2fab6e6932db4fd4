"""Run every benchmarks/bench_*.py and write benchmarks/RESULTS.md.

    nox -s bench               # full run
    nox -s bench -- --quick    # short run
    python benchmarks/run_all.py --only core_startup,eval
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    cpu = cpu_name()
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="", help="comma list of bench names (bench_<name>.py)")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        wanted = {f"bench_{n.strip()}.py" for n in args.only.split(",")}
        scripts = [s for s in scripts if s.name in wanted]
    command = "nox -s bench" + (" -- --quick" if args.quick else "")
    sections = [
        "# Benchmark results\n",
        f"- date: {dt.date.today().isoformat()}",
        f"- machine: {machine()}",
        f"- command: `{command}` (each section: `python benchmarks/<script> {'--quick' if args.quick else ''}`)",
        "- every ratio compares against a baseline measured in the same run on the same machine\n",
    ]
    failed = []
    for script in scripts:
        print(f"== {script.name}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)] + (["--quick"] if args.quick else []),
                              capture_output=True, text=True)
        took = time.perf_counter() - start
        sys.stderr.write(proc.stderr[-2000:])
        if proc.returncode != 0:
            failed.append(script.name)
            sections.append(f"## {script.name}\n\nFAILED (exit {proc.returncode}):\n\n```\n{proc.stderr[-1500:]}\n```\n")
            continue
        sections.append(proc.stdout.strip() + f"\n\n_{script.name}: {took:.0f} s_\n")
    Path(args.out).write_text("\n".join(sections) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
