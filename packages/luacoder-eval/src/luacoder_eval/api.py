"""The documented API that generations are scored against: API records from a file or a folder.

``--api`` / ``api_path`` is one JSON/JSONL/CSV/Parquet file of API records (DESIGN.md), or a
folder whose ``*.json`` and ``*.jsonl`` files (searched recursively, in sorted order) all hold API
records. Every record needs a ``name``; a record that has none is an input error naming its file
and line, because a silently smaller API would change every score.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luacoder_core.errors import InputError
from luacoder_core.records import RecordError, Sourced, iter_records, validate_api_record

API_SUFFIXES = (".json", ".jsonl")


@dataclass(frozen=True)
class Arity:
    """How many arguments a documented function takes: ``low`` required, ``high`` at most
    (``math.inf`` with a vararg ``...``)."""

    low: int
    high: float

    def fits(self, nargs: int, open_ended: bool = False) -> bool:
        """Whether a call with ``nargs`` arguments fits; an open-ended call (its last argument is
        a call or ``...``) passes ``nargs`` or more values, so only too many can be told."""
        if nargs > self.high:
            return False
        return open_ended or nargs >= self.low


@dataclass
class Api:
    """API records, their :class:`luacoder_core.lua.ApiIndex`, and the arity of each function."""

    records: list[dict]
    index: Any  # luacoder_core.lua.ApiIndex
    arity: dict[str, Arity] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @property
    def roots(self) -> set[str]:
        return self.index.roots


def api_files(path: str | Path) -> list[Path]:
    path = Path(path)
    if not path.exists():
        raise InputError("API file or folder not found", file=str(path))
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in API_SUFFIXES
                   and not p.name.endswith(".rejects.jsonl"))
    if not files:
        raise InputError("no .json or .jsonl API record files in this folder", file=str(path))
    return files


def load_api(path: str | Path) -> Api:
    """Read API records from a file or folder and index them."""
    from luacoder_core.lua import ApiIndex

    records: list[dict] = []
    files = api_files(path)
    for file in files:
        for item in iter_records(file):
            assert isinstance(item, Sourced)
            try:
                validate_api_record(item.record)
            except RecordError as exc:
                raise InputError(f"not an API record: {exc}", file=item.file, line=item.line) from exc
            records.append(item.record)
    if not records:
        raise InputError("no API records", file=str(path))
    index = ApiIndex.from_records(records)
    arity: dict[str, Arity] = {}
    for record in records:
        found = record_arity(record)
        if found is not None:
            arity.setdefault(record["name"].strip(), found)
    return Api(records, index, arity, [str(f) for f in files])


# ------------------------------------------------------------------------------------------------
# Arity: from ``params`` (with ``optional``), else parsed from the ``signature``
# ------------------------------------------------------------------------------------------------

_VARARG_NAMES = ("...", "…", "varargs", "vararg")


def _is_vararg(name: str) -> bool:
    name = name.strip().strip("[]").strip(", ").strip()
    return name in _VARARG_NAMES or name.startswith("...")


def record_arity(record: dict) -> Arity | None:
    """The arity of a function or method record, or None when it cannot be told (a field or
    module, or neither ``params`` nor a parseable ``signature``)."""
    kind = record.get("kind")
    if kind in ("field", "module"):
        return None
    params = record.get("params")
    if isinstance(params, list):
        names = [p for p in params if isinstance(p, dict) and isinstance(p.get("name"), str)]
        if kind == "method" and names and names[0]["name"].strip() == "self":
            names = names[1:]
        low, high = 0, 0.0
        for p in names:
            if _is_vararg(p["name"]):
                high = math.inf
                continue
            high += 1
            if not p.get("optional"):
                low = int(high)  # a required param after optional ones makes them all needed
        if params or _signature_params(record.get("signature")) == []:
            return Arity(low, high)
        # params: [] but a signature that lists some: trust the signature
    sig = _signature_params(record.get("signature"))
    if sig is None:
        return None
    low, high = 0, 0.0
    for name, optional in sig:
        if _is_vararg(name):
            high = math.inf
            continue
        high += 1
        if not optional:
            low = int(high)
    return Arity(low, high)


_SIG_RE = re.compile(r"\((.*)\)", re.DOTALL)


def _signature_params(signature: Any) -> list[tuple[str, bool]] | None:
    """``"tween.new(duration, subject, target [, easing])"`` ->
    ``[("duration", False), ("subject", False), ("target", False), ("easing", True)]``."""
    if not isinstance(signature, str):
        return None
    m = _SIG_RE.search(signature)
    if m is None:
        return None
    inner = m.group(1)
    params: list[tuple[str, bool]] = []
    depth = 0
    current: list[str] = []
    param_depth = 0  # bracket depth at the parameter's first character: > 0 means optional

    def flush() -> None:
        text = "".join(current).strip()
        if text:
            name = text.split(":")[0].split("=")[0].strip()  # "x: number", "x = 1"
            params.append((name, param_depth > 0 or "=" in text))

    for ch in inner:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        elif ch == ",":
            flush()
            current = []
        elif ch in "()":
            continue
        else:
            if not current and ch.isspace():
                continue
            if not current:
                param_depth = depth
            current.append(ch)
    flush()
    return params
