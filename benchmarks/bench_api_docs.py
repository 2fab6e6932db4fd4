#!/usr/bin/env python
"""Benchmarks of the API-reference converters (issue 9): ``markdown-api`` on the development set
of real references and on one large markdown file at 1x and 10x (8.3 MB and 83 MB: copies of
luv's reference, ``../shared/data/docs/luv/docs.md``), and ``lua-api`` on a folder of generated
LuaLS definition files and LDoc modules (>= 5 MB).

Each run is ``luacoder data convert ...`` in a fresh subprocess wrapped by a process that reads
its peak RSS (``RUSAGE_CHILDREN``); wall and CPU seconds are both given because other jobs share
the cores. The floor is plain Python reading the same input line by line in the same run. For
``lua-api`` the generator knows every function it declares, so the table also gives the share of
declared functions found and the names found that were never declared.

    .venv/bin/python benchmarks/bench_api_docs.py [--quick] [--keep DIR]

Prints a markdown section (``## api docs``) to stdout. ``--quick``: 0.83/8.3 MB and a 1 MB
definitions folder.
"""

from __future__ import annotations

import argparse
import json
import os
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
ENV = {**os.environ, "LUACODER_LOAD_PLUGINS": "data", "LUACODER_PROGRESS": "0"}
WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "wall = time.perf_counter() - t\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'rc': r.returncode, 'wall': wall, 'cpu': u.ru_utime + u.ru_stime,\n"
    "  'maxrss_mb': u.ru_maxrss / 1024, 'out': r.stdout[-3000:], 'err': r.stderr[-3000:]}))\n"
)
FLOOR = ("import sys\nn = 0\nfor p in sys.argv[1:]:\n    with open(p, encoding='utf-8') as fh:\n"
         "        for line in fh:\n            n += len(line)\nprint(n)\n")
WORDS = ("table string number loop handle stream socket buffer request response header body "
         "value index key list queue timer event signal process file path mode flag option "
         "callback error status result count size length offset limit").split()


def measured(argv: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *argv], capture_output=True, text=True,
                          env=ENV, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"failed ({result['rc']}): {' '.join(argv)}\n{result['err']}")
    return result


def convert(name: str, inputs: list[Path], output: Path) -> dict:
    r = measured([sys.executable, "-m", "luacoder_core", "data", "convert", name,
                  *map(str, inputs), "-o", str(output), "--no-progress"])
    m = re.search(r"read (\d+), written (\d+)", r["out"])
    r["read"], r["written"] = int(m.group(1)), int(m.group(2))
    return r


def files_of(inputs: list[Path], suffixes=(".md", ".markdown", ".lua")) -> list[Path]:
    out = []
    for p in inputs:
        out.extend(sorted(f for f in p.rglob("*") if f.suffix in suffixes) if p.is_dir() else [p])
    return out


def size_mb(inputs: list[Path]) -> float:
    return sum(f.stat().st_size for f in files_of(inputs)) / 1e6


def row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


# ------------------------------------------------------------------------------------------------
# generated Lua definitions
# ------------------------------------------------------------------------------------------------


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def gen_luals(path: Path, mod: str, n_funcs: int, rng: random.Random) -> set[str]:
    """A LuaCATS-style ``---@meta`` file; returns the public function names it declares."""
    declared: set[str] = set()
    out = ["---@meta", "", f"---{words(rng, 8)}.", "---", f"---@class {mod}", f"{mod} = {{}}", ""]
    cls = f"{mod}.Object{rng.randint(0, 99)}"
    out += [f"---{words(rng, 6)}.", f"---@class {cls}: {mod}.Base",
            f"---@field size integer # {words(rng, 5)}", "---@field name? string",
            "local Obj = {}", ""]
    out += ["---@alias " + mod + ".Mode", "---| '\"fill\"' # fill it", "---| '\"line\"'", ""]
    for i in range(n_funcs):
        params = [f"{rng.choice(WORDS)}{j}" for j in range(rng.randint(0, 4))]
        method = i % 3 == 0
        name = f"Obj:{rng.choice(WORDS)}_{i}" if method else f"{mod}.{rng.choice(WORDS)}_{i}"
        lines = ["---", f"---{words(rng, 12)}.", "---", f"---{words(rng, 20)}", f"---{words(rng, 9)}.",
                 "---", f"---[Open in Browser](https://example.org/{i})", "---"]
        if i % 4 == 0:
            lines.append("---@overload fun(" + ", ".join(f"{p}: number" for p in params[:1])
                         + f"):{mod}.Mode")
        if i % 7 == 0:
            lines.append("---@generic T")
        for k, p in enumerate(params):
            opt = "?" if k == len(params) - 1 and i % 2 else ""
            ptype = rng.choice(["number", "string", "table<string, any>", "fun(x: integer): boolean",
                                f"{mod}.Mode", "integer|nil", "T" if i % 7 == 0 else "boolean"])
            lines.append(f"---@param {p}{opt} {ptype} # {words(rng, 7)}")
        for k in range(rng.randint(0, 2)):
            lines.append(f"---@return {rng.choice(['number', 'string?', 'boolean'])} r{k} # {words(rng, 5)}")
        if i % 11 == 0:
            lines.append("---@deprecated")
        lines.append(f"function {name}({', '.join(params)}) end")
        out += lines + [""]
        declared.add(name.replace("Obj:", f"{cls}:"))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return declared


def gen_ldoc(path: Path, mod: str, n_funcs: int, rng: random.Random) -> set[str]:
    """An LDoc-commented module (``local M = {}`` ... ``return M``); returns its documented
    public functions as ``mod.f``."""
    short = mod.rsplit(".", 1)[-1]
    documented: set[str] = set()
    out = [f"--- {words(rng, 8)}.", "--", f"-- {words(rng, 15)}", f"-- @module {mod}",
           "local utils = require 'utils'", "",
           "local function helper(x)", "  return x", "end", "", f"local {short} = {{}}", ""]
    for i in range(n_funcs):
        params = [f"{rng.choice(WORDS)}{j}" for j in range(rng.randint(0, 3))]
        fname = f"{rng.choice(WORDS)}_{i}"
        lines = [f"--- {words(rng, 10)}.", f"-- {words(rng, 12)}"]
        for k, p in enumerate(params):
            tag = rng.choice(["@string", "@int", "@tparam table", "@param"])
            opt = "[opt]" if k == len(params) - 1 and i % 2 and tag != "@tparam table" else ""
            lines.append(f"-- {tag}{opt} {p} {words(rng, 5)}")
        lines.append(f"-- @return {words(rng, 4)}")
        if i % 3 == 0:
            lines.append(f"-- @usage {short}.{fname}({', '.join(repr(w) for w in params)})")
        if i % 5 == 0:
            lines += [f"{short}.{fname} = function({', '.join(params)})",
                      "  local inner = function() end", "  return inner()", "end"]
        else:
            lines += [f"function {short}.{fname}({', '.join(params)})",
                      "  if x then", "    local function nested() end", "  end", "  return helper(1)", "end"]
        out += lines + [""]
        documented.add(f"{mod}.{fname}")
    out.append(f"return {short}")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return documented


def gen_lua_folder(folder: Path, target_mb: float, seed: int = 0) -> tuple[set[str], set[str]]:
    rng = random.Random(seed)
    luals: set[str] = set()
    ldoc: set[str] = set()
    k = 0
    while size_mb([folder]) < target_mb if folder.exists() else True:
        (folder / "library" / "gen").mkdir(parents=True, exist_ok=True)
        (folder / "lua" / "gen").mkdir(parents=True, exist_ok=True)
        for _ in range(10):
            luals |= gen_luals(folder / "library" / "gen" / f"m{k}.lua", f"gen.m{k}", 120, rng)
            ldoc |= gen_ldoc(folder / "lua" / "gen" / f"d{k}.lua", f"gen.d{k}", 60, rng)
            k += 1
    return luals, ldoc


# ------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    real = SHARED / "docs" / "real"
    luv = SHARED / "docs" / "luv" / "docs.md"
    if not real.is_dir() or not luv.is_file():
        raise SystemExit(f"real fixtures not found at {SHARED}")
    work = Path(tempfile.mkdtemp(prefix="bench-api-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    out = ["## api docs\n",
           "`markdown-api` and `lua-api` (issue 9). Wall and CPU seconds include process start-up; "
           "other jobs share the cores, so CPU s is the steadier figure. MB/s = MB in / wall s "
           "(MB per CPU-s in brackets). Floor: plain Python reading the same files line by line."
           + (" `--quick`." if args.quick else "") + "\n"]
    out.append(row(["converter", "input", "MB in", "records read", "written", "wall s", "CPU s",
                    "MB/s (per CPU-s)", "peak RSS MB", "floor s"]))
    out.append(row(["---"] * 10))

    def line(name, label, inputs, output):
        r = convert(name, inputs, output)
        f = measured([sys.executable, "-c", FLOOR, *map(str, files_of(inputs))])
        mb = size_mb(inputs)
        out.append(row([name, label, f"{mb:.2f}", r["read"], r["written"], f"{r['wall']:.2f}",
                        f"{r['cpu']:.2f}", f"{mb / r['wall']:.2f} ({mb / r['cpu']:.2f})",
                        f"{r['maxrss_mb']:.0f}", f"{f['wall']:.2f}"]))
        return r, mb

    dev = sorted(p for p in real.iterdir() if p.suffix == ".md") + [real / "wezterm"]
    line("markdown-api", "development set (6 references)", dev, work / "dev.jsonl")
    text = luv.read_text(encoding="utf-8")
    big_mb = 8.3 if args.quick else 83.0
    scales = []
    for scale in (1, 10):
        target = big_mb / 10 * scale
        copies = int(target * 1e6 / len(text.encode("utf-8"))) + 1
        path = work / f"big_x{scale}.md"
        with path.open("w", encoding="utf-8") as fh:
            for _ in range(copies):
                fh.write(text)
        r, mb = line("markdown-api", f"one file, {copies} copies of luv docs.md", [path],
                     work / f"big_x{scale}.jsonl")
        scales.append((r, mb))
        path.unlink()
    (r1, _), (r10, mb10) = scales
    lua_dir = work / "lua"
    luals, ldoc = gen_lua_folder(lua_dir, 1.0 if args.quick else 5.0)
    r, _ = line("lua-api", f"generated definitions ({len(luals)} LuaLS + {len(ldoc)} LDoc "
                "functions)", [lua_dir], work / "lua.jsonl")
    names = {json.loads(x)["name"]: json.loads(x) for x in
             (work / "lua.jsonl").read_text(encoding="utf-8").splitlines()}
    funcs = {n for n, rec in names.items() if rec.get("kind") in ("function", "method")}
    invented = {n for n in funcs if n not in luals and n not in ldoc
                and not n.startswith(tuple(f"d{k}." for k in range(10000)))}
    out.append("")
    out.append(f"- 1x -> 10x single file: peak RSS {r1['maxrss_mb']:.0f} -> {r10['maxrss_mb']:.0f} MB "
               f"({r10['maxrss_mb'] / r1['maxrss_mb']:.2f}x), wall {r10['wall'] / r1['wall']:.1f}x; "
               f"{mb10:.0f} MB at {mb10 / r10['wall']:.2f} MB/s wall, {mb10 / r10['cpu']:.2f} MB per "
               f"CPU-s (goal: >= 2 MB/s, peak <= 150 MB, flat memory).")
    out.append(f"- lua-api names: {len(luals & funcs)}/{len(luals)} declared LuaLS functions and "
               f"methods found ({len(luals & funcs) / len(luals):.1%}), {len(ldoc & funcs)}/"
               f"{len(ldoc)} documented LDoc functions ({len(ldoc & funcs) / len(ldoc):.1%}), "
               f"{len(invented)} function names never declared (the short `dN.f` form of each LDoc "
               f"module is expected).")
    out.append(f"\nTotal benchmark time {time.perf_counter() - started:.0f} s.\n")
    print("\n".join(out))
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
