"""Model cards (``README.md`` with YAML front matter, the Hugging Face format) that train writes and
eval adds its scores to. Only PyYAML here, so eval can update a card without importing train.

Eval results live in two places of the card, both replaced on each update:

* the ``model-index`` metadata (what the hub shows as evaluation results), one entry per metric;
* a table in the body between :data:`EVAL_START` and :data:`EVAL_END`.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

CARD = "README.md"
EVAL_START = "<!-- luacoder-eval:start -->"
EVAL_END = "<!-- luacoder-eval:end -->"
_FRONT = re.compile(r"\A---\s*\n(.*?\n)---\s*\n?", re.S)

#: row key -> (metric name in the card, model-index type)
METRICS: dict[str, str] = {
    "api_match_accuracy": "API match",
    "syntax_valid_rate": "Syntax-valid rate",
}


def read_card(path: str | Path) -> tuple[dict[str, Any], str]:
    """``(metadata, body)`` of a card file (empty metadata when it has no front matter)."""
    text = Path(path).read_text(encoding="utf-8")
    match = _FRONT.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError:
        meta = {}
    return (meta if isinstance(meta, dict) else {}), text[match.end():]


def render_card(meta: dict[str, Any], body: str) -> str:
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return f"---\n{front}---\n\n{body.lstrip()}"


def write_card(path: str | Path, meta: dict[str, Any], body: str) -> None:
    """Write the card atomically (a temp file beside it, then a rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(render_card(meta, body))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def metric_columns(row: dict[str, Any]) -> list[tuple[str, str]]:
    """``(row key, display name)`` of the scores a results row carries, in card order."""
    out = [(k, name) for k, name in METRICS.items() if isinstance(row.get(k), (int, float))]
    passes = sorted((k for k in row if re.fullmatch(r"pass@\d+", k)
                     and isinstance(row.get(k), (int, float))), key=lambda k: int(k[5:]))
    return out + [(k, k) for k in passes]


def _fmt(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def set_eval_results(folder: str | Path, row: dict[str, Any], *, model_name: str,
                     dataset_name: str, dataset_type: str, lua_version: str | None = None,
                     source_name: str = "luacoder eval run", notes: str = "") -> bool:
    """Put one results row's scores into ``folder/README.md`` (created minimal when absent):
    ``model-index`` metadata and the results table. Returns whether the card was written."""
    folder = Path(folder)
    if not folder.is_dir():
        return False
    columns = metric_columns(row)
    if not columns:
        return False
    path = folder / CARD
    meta, body = read_card(path) if path.is_file() else ({}, f"# {model_name}\n")
    lua = f" ({lua_version})" if lua_version else ""
    metrics = []
    for key, name in columns:
        label = f"{name}{lua}" if key.startswith("pass@") else name
        metrics.append({"type": key, "value": round(float(row[key]), 6), "name": label})
    meta["model-index"] = [{
        "name": model_name,
        "results": [{
            "task": {"type": "text-generation", "name": "Lua code generation"},
            "dataset": {"name": dataset_name, "type": dataset_type},
            "metrics": metrics,
            "source": {"name": source_name},
        }],
    }]
    lines = [EVAL_START, "## Evaluation results", "",
             f"Scored by `luacoder eval run` on {dataset_name}"
             + (f"; programs run with {lua_version}" if lua_version else "") + ".", "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {m['name']} | {_fmt(m['value'])} |" for m in metrics]
    if notes:
        lines += ["", notes]
    lines.append(EVAL_END)
    section = "\n".join(lines)
    if EVAL_START in body and EVAL_END in body:
        head, rest = body.split(EVAL_START, 1)
        body = head + section + rest.split(EVAL_END, 1)[1]
    else:
        body = body.rstrip() + "\n\n" + section + "\n"
    write_card(path, meta, body)
    return True
