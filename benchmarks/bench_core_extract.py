"""Benchmark: luacoder_core's token-based API reference extractor against a luaparser AST walk,
and the lupa (Lua 5.4) syntax check against luaparser's parse, on ../shared/data/lua_corpus.

    .venv/bin/python benchmarks/bench_core_extract.py [--quick] [--corpus DIR]

Prints a markdown section to stdout. ``--quick`` uses 50 files spread over the corpus. Our timings and the
AST walk are the best of 3 runs; luaparser's parse (seconds per run) is timed once.

Roots per file: the standard libraries and the globals of the corpus' ecosystems (``ngx``,
``kong``, ...) plus the file's own module table (``local M = {}`` ... ``return M``), so each file
has references of both kinds: to a host API and to its own module.

The AST walk applies DESIGN.md's rule on luaparser's tree: a ``Name`` root, ``Index`` nodes with
dot notation, and ``Invoke`` / ``Method`` for the trailing ``:method``; only maximal chains count
(``a.b.c``, not also ``a.b``), field names of table constructors (``{ngx = 1}``) are keys, not
references. Agreement compares the per-file multisets of reference names on the files that
luaparser parses.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sys
import time
from collections import Counter
from pathlib import Path

from luacoder_core.lua import check_syntax, extract_references, tokenize
from luaparser import ast, astnodes

BASE_ROOTS = frozenset({"ngx", "kong", "string", "table", "math", "os", "io", "coroutine", "utf8"})
_MODULE_RE = re.compile(r"^local\s+([A-Za-z_]\w*)\s*=\s*\{", re.MULTILINE)


def default_corpus() -> Path:
    shared = Path(os.environ.get("LUACODER_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    return shared / "data" / "lua_corpus"


def file_roots(code: str) -> frozenset[str]:
    """The base roots plus the module table a file returns (``local M = {}`` ... ``return M``)."""
    modules = {name for name in _MODULE_RE.findall(code) if re.search(rf"^return\s+{name}\b", code, re.MULTILINE)}
    return BASE_ROOTS | modules


# ------------------------------------------------------------------------------------------------
# The luaparser AST walk
# ------------------------------------------------------------------------------------------------


def _children(node):
    for key, value in vars(node).items():
        if key.startswith("_") or key == "comments":
            continue
        if isinstance(value, astnodes.Node):
            yield value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, astnodes.Node):
                    yield item


def _chain(node) -> str | None:
    """``a.b.c`` for a Name or a dot-notation Index chain of names, else None."""
    parts = []
    while isinstance(node, astnodes.Index):
        if node.notation != astnodes.IndexNotation.DOT or not isinstance(node.idx, astnodes.Name):
            return None
        parts.append(node.idx.id)
        node = node.value
    if not isinstance(node, astnodes.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def ast_references(tree, roots: frozenset[str]) -> list[str]:
    inner: set[int] = set()  # nodes that are part of a longer chain, or names that are not references
    found: list[str] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        children = list(_children(node))
        if isinstance(node, astnodes.Index) and node.notation == astnodes.IndexNotation.DOT:
            inner.add(id(node.idx))
            if _chain(node) is not None:
                inner.add(id(node.value))
        elif isinstance(node, (astnodes.Invoke, astnodes.Method)):
            name = node.func if isinstance(node, astnodes.Invoke) else node.name
            inner.add(id(name))
            if _chain(node.source) is not None:
                inner.add(id(node.source))
                if id(node) not in inner:
                    chain = f"{_chain(node.source)}:{name.id}"
                    if chain.split(".", 1)[0].split(":", 1)[0] in roots:
                        found.append(chain)
        elif isinstance(node, astnodes.Field) and not node.between_brackets:
            inner.add(id(node.key))
        elif isinstance(node, (astnodes.Goto, astnodes.Label)):
            inner.update(id(c) for c in children)
        if id(node) not in inner and isinstance(node, (astnodes.Name, astnodes.Index)):
            chain = _chain(node)
            if chain is not None and chain.split(".", 1)[0] in roots:
                found.append(chain)
        stack.extend(reversed(children))
    return found


# ------------------------------------------------------------------------------------------------
# Measurement
# ------------------------------------------------------------------------------------------------


def timed(fn, repeat: int = 1):
    """The result of ``fn()`` and its best wall time over ``repeat`` runs (the machine is shared)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def rate_row(name: str, files: int, nbytes: int, seconds: float, ratio: str) -> str:
    return (f"| {name} | {files} | {seconds:.3f} | {files / seconds:,.0f} | {nbytes / 1e6 / seconds:.2f} | "
            f"{ratio} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 files spread over the corpus")
    parser.add_argument("--corpus", type=Path, default=default_corpus())
    args = parser.parse_args(argv)
    files = sorted(args.corpus.rglob("*.lua"))
    if not files:
        print(f"no .lua files under {args.corpus}", file=sys.stderr)
        return 2
    if args.quick:
        files = files[:: max(1, len(files) // 50)][:50]  # spread over the repositories
    sources = [p.read_text(encoding="utf-8", errors="replace") for p in files]
    nbytes = sum(len(s.encode("utf-8")) for s in sources)
    roots = [file_roots(s) for s in sources]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))

    # ours: the extractor (tokenize + chains), the lexer alone, the syntax check
    ours, t_extract = timed(lambda: [extract_references(s, r) for s, r in zip(sources, roots)], 3)
    _, t_lex = timed(lambda: sum(len(tokenize(s)) for s in sources), 3)  # per file, as a stage uses it
    check_syntax("")  # create the runtime outside the timing
    syntax, t_syntax = timed(lambda: [check_syntax(s) for s in sources], 3)

    # luaparser: parse, then walk
    trees: list = []
    failures: list[tuple[str, str]] = []
    t_parse = 0.0
    for path, source in zip(files, sources):
        start = time.perf_counter()
        try:
            trees.append(ast.parse(source))
        except Exception as exc:  # SyntaxException, and ValueError on hex floats (NOTES-cpu.md)
            trees.append(None)
            failures.append((path.name, f"{type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"))
        t_parse += time.perf_counter() - start
    theirs, t_walk = timed(lambda: [ast_references(t, r) if t is not None else None for t, r in zip(trees, roots)], 3)

    # agreement on the files both handle
    both = [i for i, t in enumerate(theirs) if t is not None]
    tp = fp = fn = 0
    only_ours: Counter[str] = Counter()
    only_theirs: Counter[str] = Counter()
    for i in both:
        a = Counter(r.name for r in ours[i])
        b = Counter(theirs[i])
        common = a & b
        tp += sum(common.values())
        fp += sum((a - b).values())
        fn += sum((b - a).values())
        only_ours.update(a - b)
        only_theirs.update(b - a)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0

    n = len(files)
    n_ok = len(both)
    bytes_ok = sum(len(sources[i].encode("utf-8")) for i in both)
    print("## core: Lua reference extraction and syntax check")
    print()
    print(f"{platform.node() or 'machine'}: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()} {platform.release()}; "
          f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}. Corpus: {n} files, "
          f"{nbytes / 1e6:.2f} MB ({args.corpus}){' (--quick)' if args.quick else ''}.")
    print()
    print("### Reference extraction (ours: tokens; baseline: luaparser parse + AST walk)")
    print()
    print("| method | files | seconds | files/s | MB/s | speed vs luaparser |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    t_ast = t_parse + t_walk
    print(rate_row("luaparser parse + AST walk (baseline)", n, nbytes, t_ast, "1.0x"))
    print(rate_row("luaparser AST walk alone (trees given)", n_ok, bytes_ok, t_walk, "-"))
    print(rate_row("`extract_references` (lexer + chains)", n, nbytes, t_extract, f"{t_ast / t_extract:.1f}x"))
    print(rate_row("`tokenize` alone", n, nbytes, t_lex, f"{t_ast / t_lex:.1f}x"))
    print()
    print(f"luaparser failed on {len(failures)} of {n} files"
          + (": " + "; ".join(f"`{f}` ({why})" for f, why in failures[:5]) + ("; ..." if len(failures) > 5 else "")
             if failures else "") + ".")
    print()
    print(f"Agreement on the {n_ok} files luaparser parses (per-file multisets of reference names; "
          f"the AST walk taken as reference):")
    print()
    print("| references (ours) | references (AST) | common | precision | recall |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print(f"| {tp + fp} | {tp + fn} | {tp} | {precision:.4f} | {recall:.4f} |")
    print()
    if only_ours or only_theirs:
        print("Most frequent differences: only ours "
              + (", ".join(f"`{k}` x{v}" for k, v in only_ours.most_common(5)) or "none")
              + "; only the AST walk's "
              + (", ".join(f"`{k}` x{v}" for k, v in only_theirs.most_common(5)) or "none") + ".")
        print()
    print("### Syntax check (ours: lupa Lua 5.4 compile without running; baseline: luaparser parse)")
    print()
    print("| method | files | seconds | files/s | MB/s | speed vs luaparser | files accepted |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(rate_row("luaparser `ast.parse` (baseline)", n, nbytes, t_parse, "1.0x") + f" {n - len(failures)} |")
    print(rate_row("`check_syntax` (lupa, Lua 5.4)", n, nbytes, t_syntax, f"{t_parse / t_syntax:.0f}x")
          + f" {sum(r.ok for r in syntax)} |")
    rejected = [(p.name, r) for p, r in zip(files, syntax) if not r.ok]
    if rejected:
        print()
        print("Rejected by Lua 5.4: " + "; ".join(f"`{f}` line {r.line}: {r.message}" for f, r in rejected[:5]))
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
