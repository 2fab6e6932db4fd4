#!/usr/bin/env python
"""Benchmarks of the luacoder-data converters (issue 3, "Speed").

Each converter runs as ``luacoder data convert ...`` in a fresh subprocess, wrapped by a small
process that reads the child's peak RSS with ``resource.getrusage(RUSAGE_CHILDREN)``; each is
measured on the real fixtures (``../shared/data``) and on synthetic inputs at 1x and 10x
(~10k and ~100k records, ~5 and ~50 MB; ``--quick``: 1k and 10k), so the table shows records/s,
MB/s, peak memory and how time and memory grow. A floor, measured in the same run on the same
input, is what plain Python needs to read it and write one JSON line per record (``json.loads``
+ ``json.dumps``, or reading the .lua files): the ratio says how much each converter adds to I/O.
``lua-code`` is also run on the Lua corpus scaled x50 (x10 with ``--quick``) with every
identifier renamed per copy (so copies are neither exact nor near duplicates) against the goal
of >= 5 MB/s with syntax check and dedup. What bounds each converter comes from cProfile at 1x.

    .venv/bin/python benchmarks/bench_data.py [--quick] [--keep DIR]

Prints a markdown section (``## data``) to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LUACODER_SHARED", REPO.parent / "shared")) / "data"
ENV = {**os.environ, "LUACODER_LOAD_PLUGINS": "data", "LUACODER_PROGRESS": "0",
       "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}

WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "wall = time.perf_counter() - t\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'rc': r.returncode, 'wall': wall, 'cpu': u.ru_utime + u.ru_stime,\n"
    "  'maxrss_mb': u.ru_maxrss / 1024,\n"
    "  'out': r.stdout[-3000:], 'err': r.stderr[-3000:]}))\n"
)

WORDS = ("table string number loop handle stream socket buffer request response header body "
         "value index key list queue timer event signal process file path mode flag option "
         "callback error status result count size length offset limit").split()
LUA_KEYWORDS = set("and break do else elseif end false for function goto if in local nil not or "
                   "repeat return then true until while self".split())


# ------------------------------------------------------------------------------------------------
# measuring
# ------------------------------------------------------------------------------------------------


def run_measured(argv: list[str]) -> dict:
    """Run ``argv`` in a child of a wrapper process; wall time and the child's peak RSS."""
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *argv], capture_output=True, text=True,
                          env=ENV, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"command failed ({result['rc']}): {' '.join(argv)}\n{result['err']}")
    return result


def convert(name: str, inputs: list[Path], output: Path, *extra: str) -> dict:
    argv = [sys.executable, "-m", "luacoder_core", "data", "convert", name, *map(str, inputs),
            "-o", str(output), "--no-progress", *extra]
    result = run_measured(argv)
    m = re.search(r"read (\d+), written (\d+), rejected (\d+)(?:, duplicates (\d+))?", result["out"])
    result.update(read=int(m.group(1)), written=int(m.group(2)), rejected=int(m.group(3)),
                  duplicates=int(m.group(4) or 0))
    return result


FLOOR_JSONL = (
    "import json, sys\n"
    "with open(sys.argv[2], 'w') as out:\n"
    "    for path in sys.argv[3:]:\n"
    "        with open(path, encoding='utf-8') as fh:\n"
    "            for line in fh:\n"
    "                out.write(json.dumps(json.loads(line)) + '\\n')\n"
)
FLOOR_FILES = (
    "import json, os, sys\n"
    "with open(sys.argv[2], 'w') as out:\n"
    "    for root in sys.argv[3:]:\n"
    "        if os.path.isfile(root):\n"
    "            out.write(json.dumps({'content': open(root, encoding='utf-8').read()}) + '\\n')\n"
    "            continue\n"
    "        for d, dirs, files in os.walk(root):\n"
    "            dirs.sort()\n"
    "            for f in sorted(files):\n"
    "                if f.endswith(('.lua', '.md')):\n"
    "                    text = open(os.path.join(d, f), encoding='utf-8').read()\n"
    "                    out.write(json.dumps({'content': text}) + '\\n')\n"
)


def floor(kind: str, inputs: list[Path], output: Path) -> dict:
    script = FLOOR_JSONL if kind == "jsonl" else FLOOR_FILES
    return run_measured([sys.executable, "-c", script, "floor", str(output), *map(str, inputs)])


def size_mb(paths: list[Path]) -> float:
    total = 0
    for p in paths:
        if p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        else:
            total += p.stat().st_size
    return total / 1e6


def profile_top(name: str, inputs: list[Path], output: Path, *extra: str, top: int = 4) -> str:
    """The functions with the most own time (cProfile) in one run of the converter."""
    code = (
        "import cProfile, pstats, sys, io\n"
        "from luacoder_core.cli import main\n"
        f"argv = {['data', 'convert', name, *map(str, inputs), '-o', str(output), '--no-progress', *extra]!r}\n"
        "def once():\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "once()  # warm up: imports and first-use set-up are not what bounds a large run\n"
        "prof = cProfile.Profile()\n"
        "prof.enable()\n"
        "once()\n"
        "prof.disable()\n"
        "st = pstats.Stats(prof)\n"
        "total = sum(v[2] for v in st.stats.values())\n"
        "rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])\n"
        f"for (file, line, func), v in rows[:{top}]:\n"
        "    mod = file.rsplit('/', 1)[-1] if not file.startswith('~') else 'builtin'\n"
        "    print(f'PROF {func} ({mod}) {100 * v[2] / total:.0f}%')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                          check=True)
    return "; ".join(line[5:].strip() for line in proc.stdout.splitlines() if line.startswith("PROF "))


# ------------------------------------------------------------------------------------------------
# synthetic inputs
# ------------------------------------------------------------------------------------------------


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def gen_dialogue(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            turns = [{"from": "human", "value": f"Question {i}: how do I {sentence(rng, 12)}?"},
                     {"from": "gpt", "value": f"Answer {i}: use `{rng.choice(WORDS)}.{rng.choice(WORDS)}()`"
                                             f" then {sentence(rng, 50)}."}]
            if i % 3 == 0:
                turns += [{"from": "human", "value": f"And {sentence(rng, 8)}?"},
                          {"from": "gpt", "value": sentence(rng, 25)}]
            fh.write(json.dumps({"conversations": turns}) + "\n")


def gen_markdown(folder: Path, n: int, per_file: int = 1000, seed: int = 0) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in range(max(1, (n + per_file - 1) // per_file)):
        lines = [f"# Module mod{f}", "", "Introduction prose.", ""]
        for i in range(f * per_file, min(n, (f + 1) * per_file)):
            params = [f"{rng.choice(WORDS)}_{j}" for j in range(rng.randint(0, 3))]
            sig = ", ".join(params + (["[callback]"] if i % 4 == 0 else []))
            lines += [f"### `mod{f}.fn_{i}({sig})`", "", f"> method form `obj:fn_{i}()`", ""]
            if params or i % 4 == 0:
                lines += ["**Parameters:**"]
                lines += [f"- `{p}`: `{rng.choice(['string', 'integer', 'table'])}`" for p in params]
                if i % 4 == 0:
                    lines += ["- `callback`: `callable` or `nil`", "  - `err`: `nil` or `string`"]
                lines += [""]
            lines += [f"Does {sentence(rng, 30)}.", "", "**Returns:** `integer` or `fail`", ""]
            if i % 5 == 0:
                lines += ["```lua", f"local r = mod{f}.fn_{i}({', '.join(params)})", "```", ""]
        path = folder / f"mod{f}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        paths.append(path)
    return paths


def gen_api(path: Path, n: int, luv_records: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        written = 0
        copy = 0
        while written < n:
            for record in luv_records:
                if written >= n:
                    break
                r = dict(record)
                r["name"] = r["name"].replace("uv.", f"uv{copy}.", 1)
                r["description"] = f"{r.get('description') or ''} (copy {copy})"
                fh.write(json.dumps(r) + "\n")
                written += 1
            copy += 1


_IDENT_RE = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\b")


def gen_corpus(folder: Path, copies: int) -> None:
    """The Lua corpus ``copies`` times, every identifier renamed per copy (still valid Lua)."""
    files = sorted((SHARED / "lua_corpus").rglob("*.lua"))
    texts = [(f.relative_to(SHARED / "lua_corpus"), f.read_text(encoding="utf-8")) for f in files]
    for c in range(copies):
        def rename(m: re.Match, c: int = c) -> str:
            return m.group(1) if m.group(1) in LUA_KEYWORDS else f"{m.group(1)}_{c}"

        for rel, text in texts:
            renamed = _IDENT_RE.sub(rename, text) if c else text
            target = folder / f"copy{c:03d}" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(renamed, encoding="utf-8")
    for lic in (SHARED / "lua_corpus").glob("*/LICENSE*"):
        for c in range(copies):
            dest = folder / f"copy{c:03d}" / lic.relative_to(SHARED / "lua_corpus")
            if dest.parent.exists():
                shutil.copy(lic, dest)


# ------------------------------------------------------------------------------------------------
# the report
# ------------------------------------------------------------------------------------------------


def fmt_row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k/10k records instead of 10k/100k")
    parser.add_argument("--keep", type=Path, default=None, help="keep inputs/outputs in this folder")
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"real fixtures not found at {SHARED}")
    base_n = 1_000 if args.quick else 10_000
    corpus_x = 10 if args.quick else 50
    work = Path(tempfile.mkdtemp(prefix="bench-data-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    out: list[str] = []
    cpu = platform.processor() or platform.machine()
    out.append("## data\n")
    out.append(f"{platform.node()} · {os.cpu_count()} cores · {cpu} · Python "
               f"{platform.python_version()} · {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} · "
               f"load average {os.getloadavg()[0]:.1f} at start (other jobs share the cores: "
               f"compare CPU seconds as well as wall)"
               f"{' · --quick' if args.quick else ''}\n")
    startup = run_measured([sys.executable, "-m", "luacoder_core", "data", "list"])
    out.append(f"Process start-up (`luacoder data list`): {startup['wall']:.2f} s, "
               f"{startup['maxrss_mb']:.0f} MB; it is included in every wall time below.\n")

    # -- real fixtures ---------------------------------------------------------------------------
    luv = SHARED / "docs" / "luv" / "docs.md"
    kong = sorted((SHARED / "docs" / "kong-pdk").glob("*.md"))
    corpus = SHARED / "lua_corpus"
    humaneval = SHARED / "eval" / "humaneval_lua.jsonl"
    api_luv = work / "luv.jsonl"
    real = [
        ("markdown-api", "luv docs.md", [luv], api_luv, ()),
        ("markdown-api", "kong-pdk/*.md", kong, work / "kong.jsonl", ()),
        ("lua-code", "lua_corpus (dedup, syntax, decontaminate)", [corpus], work / "code.jsonl",
         ("--decontaminate", str(humaneval))),
        ("api-chat", "luv API records", [api_luv], work / "chat.jsonl", ()),
        ("api-preference", "luv API records", [api_luv], work / "pref.jsonl", ()),
    ]
    out.append("### Real fixtures\n")
    out.append(fmt_row(["converter", "input", "MB in", "read", "written", "rejected", "dups",
                        "wall s", "CPU s", "records/s", "MB/s", "peak RSS MB"]))
    out.append(fmt_row(["---"] * 12))
    for name, label, inputs, output, extra in real:
        r = convert(name, inputs, output, *extra)
        mb = size_mb(inputs)
        out.append(fmt_row([name, label, f"{mb:.2f}", r["read"], r["written"], r["rejected"],
                            r["duplicates"], f"{r['wall']:.2f}", f"{r['cpu']:.2f}",
                            f"{r['read'] / r['wall']:.0f}",
                            f"{mb / r['wall']:.2f}", f"{r['maxrss_mb']:.0f}"]))
    # dialogue has no real fixture: the chat set made from the luv reference stands in
    share = work / "real_sharegpt.jsonl"
    with share.open("w", encoding="utf-8") as fh:
        for line in (work / "chat.jsonl").read_text(encoding="utf-8").splitlines():
            msgs = json.loads(line)["messages"]
            fh.write(json.dumps({"conversations": [
                {"from": "human" if m["role"] == "user" else "gpt", "value": m["content"]}
                for m in msgs]}) + "\n")
    r = convert("dialogue", [share], work / "dialogue_real.jsonl")
    mb = size_mb([share])
    out.append(fmt_row(["dialogue", "luv api-chat set as ShareGPT", f"{mb:.2f}", r["read"],
                        r["written"], r["rejected"], r["duplicates"], f"{r['wall']:.2f}",
                        f"{r['cpu']:.2f}", f"{r['read'] / r['wall']:.0f}", f"{mb / r['wall']:.2f}",
                        f"{r['maxrss_mb']:.0f}"]))
    out.append("")

    # -- synthetic 1x / 10x ----------------------------------------------------------------------
    luv_records = [json.loads(line) for line in api_luv.read_text(encoding="utf-8").splitlines()]
    cases = []
    for scale in (1, 10):
        n = base_n * scale
        d = work / f"x{scale}"
        d.mkdir(exist_ok=True)
        gen_dialogue(d / "dialogue.jsonl", n)
        md = gen_markdown(d / "md", n)
        gen_api(d / "api.jsonl", n, luv_records)
        gen_corpus(d / "corpus", max(1, corpus_x // 10 * scale))
        cases.append((scale, n, d, md))
    specs = [
        ("dialogue", lambda d, md: [d / "dialogue.jsonl"], "jsonl", ()),
        ("dialogue → parquet", lambda d, md: [d / "dialogue.jsonl"], "jsonl", ("--format", "parquet")),
        ("markdown-api", lambda d, md: md, "files", ()),
        ("lua-code", lambda d, md: [d / "corpus"], "files", ()),
        ("lua-code --workers 2", lambda d, md: [d / "corpus"], "files", ("--workers", "2")),
        ("api-chat", lambda d, md: [d / "api.jsonl"], "jsonl", ()),
        ("api-preference", lambda d, md: [d / "api.jsonl"], "jsonl", ()),
    ]
    out.append("### Synthetic inputs, 1x and 10x\n")
    out.append("dialogue: ShareGPT lines of 2-4 turns; markdown-api: luv-style references, 1,000 "
               "functions a file; lua-code: the corpus copied with renamed identifiers (1x = "
               f"x{max(1, corpus_x // 10)}, 10x = x{corpus_x}); api-chat / api-preference: the luv "
               "records with renamed roots. `floor` = plain Python reading the same input and "
               "writing one JSON line per record.\n")
    out.append(fmt_row(["converter", "scale", "records read", "MB in", "wall s", "CPU s",
                        "records/s", "MB/s", "peak RSS MB", "floor s", "x floor", "10x/1x time",
                        "10x/1x memory"]))
    out.append(fmt_row(["---"] * 13))
    bounds = {}
    lua_goal = None
    for label, inputs_of, floor_kind, extra in specs:
        name = label.split(" ")[0]
        first = None
        for scale, _n, d, md in cases:
            inputs = inputs_of(d, md)
            suffix = ".parquet" if "parquet" in extra else ".jsonl"
            r = convert(name, inputs, d / f"out_{label.replace(' ', '_')}{suffix}", *extra)
            f = floor(floor_kind, inputs, d / "floor.jsonl")
            mb = size_mb(inputs)
            ratio_t = ratio_m = ""
            if first is None:
                first = r
            else:
                ratio_t = f"{r['wall'] / first['wall']:.1f}"
                ratio_m = f"{r['maxrss_mb'] / first['maxrss_mb']:.2f}"
            out.append(fmt_row([label, f"{scale}x", r["read"], f"{mb:.1f}", f"{r['wall']:.2f}",
                                f"{r['cpu']:.2f}", f"{r['read'] / r['wall']:.0f}", f"{mb / r['wall']:.2f}",
                                f"{r['maxrss_mb']:.0f}", f"{f['wall']:.2f}",
                                f"{r['wall'] / f['wall']:.1f}", ratio_t, ratio_m]))
            if label == "lua-code" and scale == 10:
                lua_goal = (mb, r)
        if label not in bounds:
            d, md = cases[0][2], cases[0][3]
            bounds[label] = profile_top(name, inputs_of(d, md), d / "profiled.jsonl", *extra)
    out.append("")

    mb, r = lua_goal
    verdict = "meets" if mb / r["wall"] >= 5 else "misses"
    out.append(f"### lua-code goal: corpus x{corpus_x}, syntax check + exact and near dedup\n")
    out.append(f"{mb:.1f} MB ({r['read']} files) in {r['wall']:.1f} s wall = **{mb / r['wall']:.1f} MB/s** "
               f"(start-up and imports included; {mb / r['cpu']:.1f} MB per CPU second), peak "
               f"{r['maxrss_mb']:.0f} MB: {verdict} the >= 5 MB/s goal. "
               f"Written {r['written']}, rejected {r['rejected']}, duplicates {r['duplicates']}.\n")

    out.append("### What bounds each converter (cProfile of a warm second run at 1x, own time)\n")
    out.append(fmt_row(["converter", "top functions by own time"]))
    out.append(fmt_row(["---", "---"]))
    for label, text in bounds.items():
        out.append(fmt_row([label, text]))
    out.append("")
    out.append(f"Total benchmark time {time.perf_counter() - started:.0f} s.\n")
    print("\n".join(out))
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
