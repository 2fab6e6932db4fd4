"""What an API record documents, as text pieces for synthetic questions and answers.

Everything here is taken from the record (name, signature, description, params, returns,
examples); nothing is invented. The synthetic converters check their output against the
documented names as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from luacoder_core.errors import InputError
from luacoder_core.records import Malformed, RecordError, Sourced, validate_api_record

from luacoder_data.inputs import iter_input

_SENTENCE_END_RE = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\bvs)(?<=[A-Za-z0-9)`'\"])\.(?:\s|$)")
_NOT_VERBS = frozenset("this is as its was has does unless always perhaps thus plus less "
                       "process access class address status alias bus gas yes".split())


def first_sentence(text: str) -> str:
    text = " ".join(text.split("\n\n", 1)[0].split())
    m = _SENTENCE_END_RE.search(text)
    return (text[: m.start()] if m else text).strip().rstrip(":")


def imperative_task(summary: str) -> str | None:
    """``"Returns the HTTP status code"`` -> ``"get the HTTP status code"``; None when the
    summary does not open with a third-person verb."""
    words = summary.split()
    if len(words) < 2:
        return None
    verb = words[0]
    low = verb.lower()
    if not verb[:1].isupper() or not low.isalpha() or low in _NOT_VERBS or not low.endswith("s") \
            or low.endswith("ss") or low.endswith("us"):
        return None
    rest_words = words[1:]
    if rest_words[0][:1] in "`'\"" or rest_words[0].lower() in ("true", "false", "nil", "whether"):
        return None  # "Returns `true` if ..." is not a task
    base = "get" if low == "returns" else _base_verb(low)
    if len(rest_words) > 2 and rest_words[0] in ("and", "or") and rest_words[1].endswith("s"):
        rest_words = [rest_words[0], _base_verb(rest_words[1].lower()), *rest_words[2:]]
    rest = " ".join(rest_words)
    task = f"{base} {rest}".strip().rstrip(".")
    return task if len(task) <= 160 else None


def _base_verb(low: str) -> str:
    """``creates`` -> ``create``, ``pushes`` -> ``push``, ``copies`` -> ``copy``."""
    if low.endswith("ies"):
        return low[:-3] + "y"
    if re.search(r"(?:sh|ch|x|ss)es$", low):
        return low[:-2]
    return low[:-1] if low.endswith("s") else low


def module_of(name: str) -> str | None:
    cuts = [m.start() for m in re.finditer(r"[.:]", name)]
    return name[: cuts[-1]] if cuts else None


def is_callable(record: dict[str, Any]) -> bool:
    return record.get("kind") in ("function", "method", None) and "(" in str(record.get("signature") or "")


def arity(record: dict[str, Any]) -> tuple[int, int | None]:
    """``(required, maximum)`` argument count of a documented call (``None``: varargs). Methods
    (``a:m``) count without ``self``."""
    params = [p for p in record.get("params") or [] if isinstance(p, dict)]
    names = [p.get("name") for p in params]
    if "..." in names:
        required = sum(1 for p in params if not p.get("optional") and p.get("name") != "...")
        return required, None
    required = sum(1 for p in params if not p.get("optional"))
    return required, len(params)


def params_text(record: dict[str, Any]) -> str:
    lines = []
    for p in record.get("params") or []:
        meta = ", ".join(x for x in (p.get("type"), "optional" if p.get("optional") else None) if x)
        line = f"- `{p['name']}`" + (f" ({meta})" if meta else "")
        if p.get("description"):
            line += f": {p['description']}"
        lines.append(line)
    return "\n".join(lines)


def returns_text(record: dict[str, Any]) -> str:
    parts = []
    for r in record.get("returns") or []:
        piece = f"`{r['type']}`" if r.get("type") else ""
        if r.get("description"):
            piece = f"{piece}: {r['description']}" if piece else r["description"]
        if r.get("variant"):
            piece = f"{piece} ({r['variant']})"
        if piece:
            parts.append(piece)
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0].rstrip(".") + "."
    return "\n\n" + "\n".join(f"- {p}" for p in parts)


def facts(record: dict[str, Any]) -> dict[str, Any]:
    """The placeholder values of a record (absent when the record does not document them)."""
    name = record["name"]
    values: dict[str, Any] = {"name": name, "kind": record.get("kind") or "function",
                              "signature": record.get("signature") or name}
    description = (record.get("description") or "").strip()
    if description:
        values["description"] = description
        summary = first_sentence(description)
        if summary:
            values["summary"] = summary
            task = imperative_task(summary)
            if task:
                values["task"] = task
    if module_of(name):
        values["module"] = module_of(name)
    if record.get("section"):
        values["section"] = record["section"]
    if record.get("params"):
        values["params"] = True
        values["params_text"] = params_text(record)
    rt = returns_text(record)
    if rt:
        values["returns"] = True
        values["returns_text"] = rt
    examples = [e for e in record.get("examples") or [] if isinstance(e, str) and e.strip()]
    if examples:
        values["example"] = examples[0].rstrip("\n") + "\n"
    if record.get("deprecated"):
        values["deprecation"] = (record.get("deprecation") or "").strip() or \
            "The reference marks it as deprecated."
    if is_callable(record):
        values["callable"] = True
    return values


def load_api_records(paths: Iterable[str], on_malformed: str = "error"
                     ) -> Iterable[tuple[dict[str, Any] | None, Sourced | Malformed, str | None]]:
    """``(record, source, problem)`` for every record of the API files (problem: why it is not a
    usable API record)."""
    for path in paths:
        if not Path(path).exists():
            raise InputError("file not found", file=path)
        for item in iter_input(path, on_malformed=on_malformed):
            if isinstance(item, Malformed):
                yield None, item, item.reason
                continue
            try:
                validate_api_record(item.record)
            except RecordError as exc:
                yield None, item, f"not an API record: {exc}"
                continue
            yield item.record, item, None
