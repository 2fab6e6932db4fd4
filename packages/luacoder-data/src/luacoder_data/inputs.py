"""Streaming record readers: one record in memory at a time, each with its file and line.

JSON Lines go through core's streaming :func:`luacoder_core.records.iter_records`; CSV and
Parquet are read incrementally here so memory stays flat as inputs grow. A JSON array
(``.json``) is one document and is read whole.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

from luacoder_core.errors import InputError
from luacoder_core.records import Malformed, Sourced, iter_records, record_format

_csv_field_limit_raised = False


def check_input_file(path: str | Path) -> Path:
    """The path, or an :class:`InputError` naming it when it is missing or a folder."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if path.is_dir() and not is_hf_dataset_dir(path):
        raise InputError("is a folder, expected a file of records", file=str(path))
    return path


def is_hf_dataset_dir(path: Path) -> bool:
    """A folder written by ``datasets`` ``save_to_disk`` (a Dataset or a DatasetDict)."""
    return path.is_dir() and ((path / "dataset_info.json").exists()
                              or (path / "dataset_dict.json").exists()
                              or (path / "state.json").exists())


def iter_input(path: str | Path, *, on_malformed: str = "error",
               columns: Iterable[str] = ()) -> Iterator[Sourced | Malformed]:
    """Yield the records of a JSONL, JSON array, CSV/TSV, Parquet file or ``save_to_disk`` folder.

    :param on_malformed: ``"error"`` raises :class:`InputError` naming file and line for a line
        that is not JSON; ``"yield"`` yields a :class:`Malformed` so the caller can reject it.
    :param columns: for CSV/TSV, columns that must exist (else :class:`InputError` naming the
        file and the column).
    """
    path = check_input_file(path)
    if path.is_dir():
        yield from _iter_hf_dir(path)
        return
    fmt = record_format(path)
    if fmt == "parquet":
        yield from _iter_parquet(path)
    elif fmt in ("csv", "tsv"):
        yield from _iter_csv(path, "\t" if fmt == "tsv" else ",", list(columns))
    else:
        yield from _iter_jsonl(path, on_malformed)


def _iter_jsonl(path: Path, on_malformed: str) -> Iterator[Sourced | Malformed]:
    """Core's streaming JSON Lines reader, with this package's hint on malformed lines."""
    try:
        yield from iter_records(path, on_malformed=on_malformed)
    except InputError as exc:
        if "invalid JSON" in exc.message and on_malformed != "yield":
            exc.message += "; --skip-malformed sends such lines to the rejects file"
        raise


def _iter_csv(path: Path, delimiter: str, columns: list[str]) -> Iterator[Sourced]:
    global _csv_field_limit_raised
    if not _csv_field_limit_raised:  # long responses exceed csv's 128 KiB default field limit
        csv.field_size_limit(1 << 30)
        _csv_field_limit_raised = True
    with path.open("r", encoding="utf-8-sig", newline="", errors="strict") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        try:
            header = reader.fieldnames
        except UnicodeDecodeError as exc:
            raise InputError("not UTF-8", file=str(path), line=1) from exc
        header = header or []
        for column in columns:
            if column not in header:
                raise InputError(f"no column '{column}' (columns: {', '.join(header) or 'none'})",
                                 file=str(path), line=1)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise InputError("not UTF-8", file=str(path), line=reader.line_num + 1) from exc
            except csv.Error as exc:
                raise InputError(f"malformed CSV: {exc}", file=str(path),
                                 line=reader.line_num) from exc
            yield Sourced(dict(row), str(path), reader.line_num)


def _iter_parquet(path: Path) -> Iterator[Sourced]:
    import pyarrow.parquet as pq

    try:
        pfile = pq.ParquetFile(path)
    except Exception as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=str(path)) from exc
    row = 0
    for batch in pfile.iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            row += 1
            yield Sourced(record, str(path), row)


def _iter_hf_dir(path: Path) -> Iterator[Sourced]:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:
        raise InputError(f"not a readable datasets folder: {exc}", file=str(path)) from exc
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
    for split, dataset in splits:
        where = f"{path}[{split}]" if split else str(path)
        for i, record in enumerate(dataset):
            yield Sourced(record, where, i + 1)
