#!/usr/bin/env python
"""Recall and precision of ``markdown-api`` names on the development set of real references
(``../shared/data/docs/real``: each document with ``expected/<doc>.txt``), defaults only.

    .venv/bin/python benchmarks/score_api_docs.py [--show-missing] [--docs DIR]

Prints one markdown table row per document (recall, precision, exact-name recall, records), the
prose tutorial's record count and what the unsupported files are told. Exit 1 when a document
is under 95% recall or precision. Any folder laid out the same way can be scored with
``--docs``: ``<doc>.md`` / ``.txt`` / ``.adoc`` or a folder ``<doc>/`` next to
``expected/<doc>.txt``, where a line ``?name`` marks a name that is neither required nor an
error (a module heading, a placeholder).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LUACODER_SHARED", REPO.parent / "shared")) / "data"
LUACODER = [sys.executable, "-m", "luacoder_core"]
ENV = {**os.environ, "LUACODER_LOAD_PLUGINS": "data", "LUACODER_PROGRESS": "0"}


def convert(inputs: list[Path], out: Path, converter: str = "markdown-api") -> tuple[int, str]:
    r = subprocess.run([*LUACODER, "data", "convert", converter, *map(str, inputs), "-o", str(out)],
                       capture_output=True, text=True, env=ENV)
    return r.returncode, (r.stdout + r.stderr).strip()


def main() -> int:
    from luacoder_data.api_names import score_names

    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=Path, default=SHARED / "docs" / "real")
    ap.add_argument("--show-missing", action="store_true")
    args = ap.parse_args()
    docs: Path = args.docs
    if not docs.is_dir():
        print(f"no development set at {docs}", file=sys.stderr)
        return 2
    bad = 0
    print("| document | expected | records | recall | precision | exact names |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for exp in sorted((docs / "expected").glob("*.txt")):
            doc = exp.stem
            src = docs / doc if (docs / doc).is_dir() else next(
                (p for p in sorted(docs.glob(f"{doc}.*")) if p.is_file()), docs / f"{doc}.md")
            out = Path(tmp) / f"{doc}.jsonl"
            rc, msg = convert([src], out)
            records = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
            lines = exp.read_text().splitlines()
            # `?name`: a name the document may or may not be counted for (module headings,
            # placeholders): neither missing nor extra
            optional = [ln[1:].strip() for ln in lines if ln.startswith("?")]
            names = [r["name"] for r in records if not any(
                r["name"] == o or o.endswith(("." + r["name"], ":" + r["name"])) for o in optional)]
            s = score_names(names, [ln for ln in lines if not ln.startswith("?")])
            bad += s.recall < 0.95 or s.precision < 0.95
            print(f"| {doc} | {s.expected} | {len(records)} | {s.recall:.1%} | {s.precision:.1%} "
                  f"| {s.exact_recall:.1%} |")
            if args.show_missing and (s.missing or s.extra):
                print(f"    missing: {s.missing}\n    extra: {s.extra}", file=sys.stderr)
        for prose in sorted((docs / "prose").glob("*.md")):
            out = Path(tmp) / "prose.jsonl"
            rc, msg = convert([prose], out)
            n = len(out.read_text().splitlines()) if out.exists() else 0
            bad += n > 2
            print(f"\nprose `{prose.name}`: {n} records (at most 2 allowed), exit {rc}")
        for f in sorted((docs / "unsupported").glob("*")):
            rc, msg = convert([f], Path(tmp) / "u.jsonl")
            print(f"\nunsupported `{f.name}`: exit {rc}: {msg.splitlines()[-1] if msg else ''}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
