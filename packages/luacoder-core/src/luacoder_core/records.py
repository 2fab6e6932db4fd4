"""The record formats of DESIGN.md, one validator each, and record I/O.

Readers take JSON Lines, a JSON array, CSV and Parquet and yield each record with its source
(file and line). Writers write JSON Lines atomically (temp file, then rename) and send every record
that fails validation to ``<output>.rejects.jsonl`` with the reason and its source.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luacoder_core.errors import InputError

# ------------------------------------------------------------------------------------------------
# Schemas
# ------------------------------------------------------------------------------------------------


class RecordError(ValueError):
    """A record that cannot be used; the message is the reason written to the rejects file."""


API_KINDS = ("function", "method", "field", "module")
ROLES = ("system", "user", "assistant")


def _require_str(record: dict, key: str, *, allow_empty: bool = False) -> str:
    if key not in record:
        raise RecordError(f"missing '{key}'")
    value = record[key]
    if not isinstance(value, str):
        raise RecordError(f"'{key}' must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise RecordError(f"'{key}' is empty")
    return value


def _require_dict(record: Any) -> dict:
    if not isinstance(record, dict):
        raise RecordError(f"a record must be a JSON object, got {type(record).__name__}")
    return record


def validate_api_record(record: Any) -> None:
    """API record: only ``name`` is required; other fields are type-checked when present
    (``signatures``: every signature of the name, the main one first; ``deprecated``: a bool)."""
    record = _require_dict(record)
    _require_str(record, "name")
    kind = record.get("kind")
    if kind is not None and kind not in API_KINDS:
        raise RecordError(f"'kind' must be one of {', '.join(API_KINDS)}, got {kind!r}")
    for key in ("params", "returns", "examples"):
        if key in record and record[key] is not None and not isinstance(record[key], list):
            raise RecordError(f"'{key}' must be a list")
    for i, param in enumerate(record.get("params") or []):
        if not isinstance(param, dict) or not isinstance(param.get("name"), str):
            raise RecordError(f"params[{i}] must be an object with a 'name'")
    for i, example in enumerate(record.get("examples") or []):
        if not isinstance(example, str):
            raise RecordError(f"examples[{i}] must be a string of Lua code")
    signatures = record.get("signatures")
    if signatures is not None and (not isinstance(signatures, list)
                                   or not all(isinstance(s, str) for s in signatures)):
        raise RecordError("'signatures' must be a list of strings (every signature of the name)")
    if record.get("deprecated") is not None and not isinstance(record["deprecated"], bool):
        raise RecordError(f"'deprecated' must be true or false, got {record['deprecated']!r}")


def validate_code_sample(record: Any) -> None:
    """Code sample: ``{"content": str, ...metadata}``."""
    _require_str(_require_dict(record), "content")


def validate_conversation(record: Any) -> None:
    """Conversation: known roles, non-empty content, system only first, a user and an assistant
    turn."""
    record = _require_dict(record)
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RecordError("'messages' must be a non-empty list")
    seen = set()
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RecordError(f"messages[{i}] must be an object")
        role = message.get("role")
        if role not in ROLES:
            raise RecordError(f"messages[{i}] has unknown role {role!r}")
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            raise RecordError(f"messages[{i}] ({role}) has empty content")
        if role == "system" and i != 0:
            raise RecordError(f"messages[{i}]: a system message may only come first")
        seen.add(role)
    if "user" not in seen or "assistant" not in seen:
        raise RecordError("a conversation needs at least one user and one assistant turn")


def validate_preference(record: Any) -> None:
    """Preference pair (TRL): ``prompt`` (str or messages), ``chosen``, ``rejected``."""
    record = _require_dict(record)
    prompt = record.get("prompt")
    if isinstance(prompt, list):
        if not prompt or not all(isinstance(m, dict) and m.get("role") in ROLES for m in prompt):
            raise RecordError("'prompt' messages must have known roles")
    else:
        _require_str(record, "prompt")
    for key in ("chosen", "rejected"):
        value = record.get(key)
        if isinstance(value, list):
            continue  # conversational form
        _require_str(record, key)
    if record.get("chosen") == record.get("rejected"):
        raise RecordError("'chosen' and 'rejected' are identical")


def validate_generation(record: Any) -> None:
    """Generation: ``{"prompt": str, "output": str, "checkpoint": str?}``; output may be empty."""
    record = _require_dict(record)
    _require_str(record, "output", allow_empty=True)
    if "prompt" in record and not isinstance(record["prompt"], str):
        raise RecordError("'prompt' must be a string")


VALIDATORS: dict[str, Callable[[Any], None]] = {
    "api": validate_api_record,
    "code": validate_code_sample,
    "conversation": validate_conversation,
    "preference": validate_preference,
    "generation": validate_generation,
}


def validate(kind: str, record: Any) -> None:
    """Raise :class:`RecordError` when ``record`` is not a valid record of ``kind``."""
    try:
        validator = VALIDATORS[kind]
    except KeyError:
        raise ValueError(f"unknown record kind {kind!r}; known: {', '.join(VALIDATORS)}") from None
    validator(record)


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------


@dataclass
class Sourced:
    """A record with where it came from (``line`` is 1-based; the row for CSV/Parquet)."""

    record: Any
    file: str
    line: int | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass
class Malformed:
    """A line of input that is not a record at all (bad JSON); yielded with ``on_malformed='yield'``."""

    reason: str
    file: str
    line: int | None = None
    raw: str = ""


def _open_text(path: Path) -> str:
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if path.is_dir():
        raise InputError("is a folder, expected a file of records", file=str(path))
    return read_text(path)


def read_text(path: str | Path) -> str:
    """A UTF-8 text file (a BOM is dropped); not UTF-8 is an :class:`InputError` naming the line."""
    path = Path(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 (byte 0x{data[exc.start]:02x})", file=str(path),
                         line=line) from exc


def record_format(path: str | Path) -> str:
    suffixes = [s.lower() for s in Path(path).suffixes]
    name = suffixes[-1] if suffixes else ""
    if name in (".gz",):
        name = suffixes[-2] if len(suffixes) > 1 else ""
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv",
            ".tsv": "tsv", ".parquet": "parquet"}.get(name, "jsonl")


def iter_records(path: str | Path, *, on_malformed: str = "error") -> Iterator[Sourced | Malformed]:
    """Yield every record of a JSONL, JSON-array, CSV/TSV or Parquet file with its source.

    :param on_malformed: ``"error"`` raises :class:`InputError` naming file and line for a line
        that is not valid JSON; ``"yield"`` yields a :class:`Malformed` instead (for rejects).
    """
    path = Path(path)
    fmt = record_format(path)
    if fmt == "parquet":
        yield from _iter_parquet(path)
        return
    if fmt == "jsonl" and path.exists() and path.is_file() and not _starts_with_bracket(path):
        yield from _iter_jsonl(path, None, on_malformed)
        return
    text = _open_text(path)
    if fmt == "jsonl":  # a JSON array in a .jsonl file
        fmt = "json"
    if fmt in ("csv", "tsv"):
        reader = csv.DictReader(text.splitlines(keepends=True),
                                delimiter="\t" if fmt == "tsv" else ",")
        if reader.fieldnames is None:
            return
        for row in reader:
            yield Sourced(dict(row), str(path), reader.line_num)
        return
    if fmt == "json":
        yield from _iter_json_array(path, text)
        return
    yield from _iter_jsonl(path, text, on_malformed)


def _iter_json_array(path: Path, text: str) -> Iterator[Sourced | Malformed]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and not text.lstrip().startswith("["):
            yield from _iter_jsonl(path, text, "error")  # JSON Lines saved as .json
            return
        raise InputError(f"invalid JSON: {exc.msg}", file=str(path), line=exc.lineno) from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise InputError("a JSON file must hold an array of records or one object", file=str(path))
    for i, record in enumerate(data):
        yield Sourced(record, str(path), i + 1)


def _iter_jsonl(path: Path, text: str | None, on_malformed: str) -> Iterator[Sourced | Malformed]:
    lines = text.splitlines() if text is not None else None
    for lineno, line in enumerate(lines if lines is not None else _stream_lines(path), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if on_malformed == "yield":
                yield Malformed(f"invalid JSON: {exc.msg} (column {exc.colno})", str(path), lineno,
                                line[:200])
                continue
            raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=str(path),
                             line=lineno) from exc
        yield Sourced(record, str(path), lineno)


def _stream_lines(path: Path) -> Iterator[str]:
    """Lines of a UTF-8 file, one at a time (memory stays flat on large JSONL files)."""
    lineno = 0
    with path.open("rb") as fh:
        for raw in fh:
            lineno += 1
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"not UTF-8 (byte 0x{raw[exc.start]:02x})", file=str(path),
                                 line=lineno) from exc
            yield line.rstrip("\r\n")


def _starts_with_bracket(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def _iter_parquet(path: Path) -> Iterator[Sourced]:
    if not path.exists():
        raise InputError("file not found", file=str(path))
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise InputError("reading Parquet needs pyarrow: pip install 'luacoder-core[parquet]'",
                         file=str(path)) from exc
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=str(path)) from exc
    for i, row in enumerate(table.to_pylist()):
        yield Sourced(row, str(path), i + 1)


def read_records(path: str | Path) -> list[dict]:
    """All records of one file (errors on malformed lines)."""
    return [s.record for s in iter_records(path)]


def require_columns(path: str | Path, columns: Iterable[str]) -> None:
    """Raise naming the file when a CSV/TSV lacks one of ``columns``."""
    path = Path(path)
    if record_format(path) not in ("csv", "tsv"):
        return
    text = _open_text(path)
    header = next(csv.reader(text.splitlines()[:1], delimiter="\t" if path.suffix == ".tsv" else ","), [])
    for column in columns:
        if column not in header:
            raise InputError(f"no column '{column}' (columns: {', '.join(header) or 'none'})",
                             file=str(path), line=1)


# ------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------


class AtomicWriter:
    """Write a text file through a temp file in the same folder; renamed on success only."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._tmp: str | None = None
        self._fh = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                         dir=self.path.parent)
        self._fh = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        return self._fh

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._fh is not None and self._tmp is not None
        self._fh.close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass


def write_text_atomic(path: str | Path, text: str) -> None:
    with AtomicWriter(path) as fh:
        fh.write(text)


def reject_line(record: Any, reason: str,
                source: Sourced | Malformed | str | dict | None = None) -> str:
    """One line of a rejects file: the reason, the source (file and line) and the record (or,
    for a line that was not JSON at all, its raw text)."""
    entry: dict[str, Any] = {"reason": reason}
    if isinstance(source, (Sourced, Malformed)):
        entry["source"] = {"file": source.file, "line": source.line}
    elif isinstance(source, dict):
        entry["source"] = source
    elif isinstance(source, str):
        entry["source"] = {"file": source}
    if isinstance(source, Malformed):
        entry["raw"] = source.raw
    else:
        entry["record"] = record
    return json.dumps(entry, ensure_ascii=False, default=str) + "\n"


def rejects_path(output: str | Path) -> Path:
    """``out/train.jsonl`` -> ``out/train.jsonl.rejects.jsonl``."""
    output = Path(output)
    return output.with_name(output.name + ".rejects.jsonl")


@dataclass
class Summary:
    """Counts of one conversion: ``read = written + rejected + duplicates``."""

    read: int = 0
    written: int = 0
    rejected: int = 0
    duplicates: int = 0
    outputs: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        text = f"read {self.read}, written {self.written}, rejected {self.rejected}"
        if self.duplicates:
            text += f", duplicates {self.duplicates}"
        return text

    @property
    def balanced(self) -> bool:
        return self.read == self.written + self.rejected + self.duplicates

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "written": self.written, "rejected": self.rejected,
                "duplicates": self.duplicates, "outputs": self.outputs, **self.extra}


class RecordWriter:
    """Write records as JSON Lines atomically, with a rejects file beside the output.

    >>> with RecordWriter("out.jsonl", kind="code") as w:
    ...     w.write({"content": "print(1)"})            # validated, written
    ...     w.reject({"content": ""}, "empty", source)   # to out.jsonl.rejects.jsonl
    ...     w.count_read(); w.count_duplicate()
    ...
    The output and the rejects file appear together when the block ends without an error; on an
    error neither is touched (a previous good output stays).
    """

    def __init__(self, output: str | Path, *, kind: str | None = None, validate_records: bool = True,
                 summary: Summary | None = None) -> None:
        self.output = Path(output)
        self.kind = kind
        self.validate_records = validate_records and kind is not None
        self.summary = summary or Summary()
        self._out = AtomicWriter(self.output)
        self._rej = AtomicWriter(rejects_path(self.output))
        self._out_fh = None
        self._rej_fh = None

    def __enter__(self) -> RecordWriter:
        self._out_fh = self._out.__enter__()
        self._rej_fh = self._rej.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._out.__exit__(exc_type, exc, tb)
        if exc_type is None and self.summary.rejected == 0:
            # no rejects: remove the empty file and any stale one from an earlier run
            self._rej.__exit__(RuntimeError, None, None)
            rejects_path(self.output).unlink(missing_ok=True)
        else:
            self._rej.__exit__(exc_type, exc, tb)
        if exc_type is None:
            self.summary.outputs.append(str(self.output))

    def count_read(self, n: int = 1) -> None:
        self.summary.read += n

    def count_duplicate(self, n: int = 1) -> None:
        self.summary.duplicates += n

    def write(self, record: dict, source: Sourced | Malformed | str | None = None) -> bool:
        """Validate and write one record; an invalid one is rejected. Returns whether written."""
        if self.validate_records:
            try:
                validate(self.kind, record)  # type: ignore[arg-type]
            except RecordError as exc:
                self.reject(record, str(exc), source)
                return False
        assert self._out_fh is not None
        self._out_fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.summary.written += 1
        return True

    def reject(self, record: Any, reason: str,
               source: Sourced | Malformed | str | dict | None = None) -> None:
        assert self._rej_fh is not None
        self._rej_fh.write(reject_line(record, reason, source))
        self.summary.rejected += 1


def write_records(output: str | Path, records: Iterable[dict], *, kind: str | None = None) -> Summary:
    """Validate and write ``records`` to ``output`` (JSON Lines, atomic, rejects beside it)."""
    with RecordWriter(output, kind=kind) as writer:
        for record in records:
            writer.count_read()
            writer.write(record)
    return writer.summary
