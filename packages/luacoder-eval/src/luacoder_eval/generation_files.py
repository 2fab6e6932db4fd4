"""Reading generations to score: JSONL, a JSON array, CSV/TSV or Parquet with an ``output`` column.

Generated text is whatever a model wrote, so the reader is tolerant where the text is at fault and
strict where the file is: a line that is not valid UTF-8 is decoded with replacement characters
and scored (counted in ``undecodable``), an empty or ``null`` output is an empty generation, and a
huge one is scored on its first :data:`MAX_CHARS` characters (counted in ``truncated``). A line
that is not JSON, a record that is not an object, or a missing column is an input error naming
the file, line and column.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luacoder_core.errors import InputError
from luacoder_core.records import Sourced, iter_records, record_format

#: generations longer than this are scored on their first MAX_CHARS characters
MAX_CHARS = 1_000_000


@dataclass
class Generations:
    """The samples of one generations file and what the reader had to repair."""

    samples: list[dict]
    file: str
    undecodable: int = 0
    truncated: int = 0
    notes: list[str] = field(default_factory=list)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    elif not isinstance(value, str):
        value = str(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON "\ud800": not text any tool can print
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise InputError("generations file not found", file=str(path))
    if path.is_dir():
        raise InputError("is a folder, expected a generations file", file=str(path))
    return path.read_bytes()


def _decode(data: bytes) -> tuple[str, bool]:
    try:
        return data.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), True


def read_generations(path: str | Path, column: str = "output") -> Generations:
    """Read every generation of ``path``; each sample is the record plus ``output`` (the text in
    ``column``, a ``str``), ``file`` and ``line``."""
    path = Path(path)
    fmt = record_format(path)
    result = Generations([], str(path))
    if fmt == "parquet":
        for item in iter_records(path):
            assert isinstance(item, Sourced)
            _add(result, item.record, column, item.line)
        return result
    data = _read_bytes(path)
    if fmt in ("csv", "tsv"):
        text, bad = _decode(data)
        result.undecodable += int(bad)
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ",")
        header = reader.fieldnames or []
        if column not in header:
            raise InputError(f"no column '{column}' (columns: {', '.join(header) or 'none'}); "
                             f"use --column to pick another", file=str(path), line=1)
        for row in reader:
            _add(result, dict(row), column, reader.line_num)
        return result
    stripped = data.lstrip()
    if fmt == "json" or stripped.startswith(b"["):
        text, bad = _decode(data)
        result.undecodable += int(bad)
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=str(path),
                             line=exc.lineno) from exc
        if isinstance(records, dict):
            records = [records]
        if not isinstance(records, list):
            raise InputError("a JSON file must hold an array of generation records",
                             file=str(path))
        for i, record in enumerate(records, start=1):
            _add(result, record, column, i)
        return result
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", "replace")
            result.undecodable += 1
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=str(path),
                             line=lineno) from exc
        _add(result, record, column, lineno)
    return result


def _add(result: Generations, record: Any, column: str, line: int | None) -> None:
    if not isinstance(record, dict):
        raise InputError(f"a generation must be a JSON object, got {type(record).__name__}",
                         file=result.file, line=line)
    if column not in record:
        raise InputError(f"no '{column}' in this record (keys: {', '.join(map(str, record)) or 'none'}); "
                         f"use --column to pick another", file=result.file, line=line, key=column)
    sample = dict(record)
    text = _text(record[column])
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
        result.truncated += 1
    sample["output"] = text
    sample.setdefault("prompt", "")
    sample["prompt"] = _text(sample["prompt"])
    sample["file"] = result.file
    sample["line"] = line
    result.samples.append(sample)
