"""Where converters write: validated records in JSONL, Parquet or a ``datasets`` folder.

Every format is written atomically: records stream into a temp JSONL file beside the output
and the final file (or folder) replaces the old one only when the run ends without an error.
The rejects file is always JSON Lines, ``<output>.rejects.jsonl``, with the reason and the
source of each rejected record. ``read = written + rejected + duplicates`` holds by
construction: converters call :meth:`Output.count_read` once per unit they consider and then
exactly one of ``write`` (which may reject), ``reject`` or ``count_duplicate``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from luacoder_core.errors import InputError, RunFailed
from luacoder_core.records import (
    AtomicWriter,
    Malformed,
    RecordError,
    Sourced,
    Summary,
    reject_line,
    rejects_path,
    validate,
)

FORMATS = ("jsonl", "parquet", "hf")
PROGRESS_THRESHOLD = 300


def split_paths(output: str | Path, fmt: str) -> dict[str, Path]:
    """Where ``--test-size`` writes: ``chat.jsonl`` -> ``chat.train.jsonl`` + ``chat.test.jsonl``.

    For ``--format hf`` the output folder holds a ``DatasetDict`` with both splits instead.
    """
    output = Path(output)
    if fmt == "hf":
        return {"train": output, "test": output}
    suffix = ".parquet" if fmt == "parquet" else ".jsonl"
    stem = output.name[: -len(output.suffix)] if output.suffix else output.name
    return {split: output.with_name(f"{stem}.{split}{suffix}") for split in ("train", "test")}


class Progress:
    """A tqdm bar on stderr that appears once more than a few hundred units were counted."""

    def __init__(self, desc: str, *, enabled: bool = True, unit: str = "rec",
                 threshold: int = PROGRESS_THRESHOLD) -> None:
        self.desc = desc
        self.enabled = enabled and os.environ.get("LUACODER_PROGRESS", "1") != "0"
        self.unit = unit
        self.threshold = threshold
        self.count = 0
        self._bar = None

    def update(self, n: int = 1) -> None:
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.enabled and self.count > self.threshold:
            from tqdm import tqdm

            self._bar = tqdm(desc=self.desc, initial=self.count, unit=self.unit, file=sys.stderr,
                             mininterval=0.5, dynamic_ncols=True, leave=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Output:
    """A validated, atomic record output with a JSONL rejects file and a :class:`Summary`.

    >>> with Output("chat.jsonl", kind="conversation", fmt="parquet") as out:
    ...     out.count_read(); out.write({"messages": [...]}, source)
    """

    def __init__(self, path: str | Path, *, kind: str | None, fmt: str = "jsonl",
                 test_size: float | None = None, seed: int = 0, progress: bool = True,
                 name: str = "convert", validate_records: bool = True, quiet: bool = False) -> None:
        if fmt not in FORMATS:
            raise InputError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
        if test_size is not None and not test_size > 0:
            raise InputError(f"--test-size must be > 0, got {test_size}")
        self.path = Path(path)
        self.kind = kind
        self.fmt = fmt
        self.test_size = test_size
        self.seed = seed
        self.name = name
        self.validate_records = validate_records and kind is not None
        self.quiet = quiet
        self.summary = Summary()
        self.reasons: Counter[str] = Counter()
        self.duplicate_kinds: Counter[str] = Counter()
        self.progress = Progress(name, enabled=progress)
        self._tmp_path: Path | None = None
        self._tmp_fh = None
        self._rej = AtomicWriter(rejects_path(self.path))
        self._rej_fh = None

    # -- context --------------------------------------------------------------------------------

    def __enter__(self) -> Output:
        if self.path.is_dir() and self.fmt != "hf":
            raise InputError("output is a folder; use --format hf for a datasets folder",
                             file=str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part.jsonl",
                                   dir=self.path.parent)
        self._tmp_path = Path(tmp)
        self._tmp_fh = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        self._rej_fh = self._rej.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.progress.close()
        assert self._tmp_fh is not None and self._tmp_path is not None
        self._tmp_fh.close()
        try:
            if exc_type is None:
                self._finalize()
        except BaseException:
            self._rej.__exit__(RuntimeError, None, None)
            raise
        finally:
            self._tmp_path.unlink(missing_ok=True)
        if exc_type is None and self.summary.rejected == 0:
            self._rej.__exit__(RuntimeError, None, None)
            rejects_path(self.path).unlink(missing_ok=True)
        else:
            self._rej.__exit__(exc_type, exc, tb)
        if exc_type is None:
            self.summary.extra["rejected_by_reason"] = dict(self.reasons)
            if self.duplicate_kinds:
                self.summary.extra["duplicates_by_kind"] = dict(self.duplicate_kinds)
            if not self.quiet:
                self._explain()

    # -- counting ---------------------------------------------------------------------------------

    def count_read(self, n: int = 1) -> None:
        self.summary.read += n
        self.progress.update(n)

    def count_duplicate(self, n: int = 1, kind: str = "exact") -> None:
        self.summary.duplicates += n
        self.duplicate_kinds[kind] += n

    def write(self, record: dict, source: Sourced | Malformed | str | dict | None = None) -> bool:
        """Validate and write one record (an invalid one is rejected); returns whether written."""
        if self.validate_records:
            try:
                validate(self.kind, record)  # type: ignore[arg-type]
            except RecordError as exc:
                self.reject(record, str(exc), source)
                return False
        try:
            line = json.dumps(record, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            self.reject(repr(record)[:500], f"not JSON-serialisable: {exc}", source)
            return False
        assert self._tmp_fh is not None
        self._tmp_fh.write(line + "\n")
        self.summary.written += 1
        return True

    def reject(self, record: Any, reason: str,
               source: Sourced | Malformed | str | dict | None = None) -> None:
        assert self._rej_fh is not None
        self._rej_fh.write(reject_line(record, reason, source))
        self.summary.rejected += 1
        self.reasons[reason_category(reason)] += 1

    def _explain(self) -> None:
        parts = []
        if self.reasons:
            top = self.reasons.most_common(8)
            more = len(self.reasons) - len(top)
            parts.append("rejected: " + ", ".join(f"{n} {r}" for r, n in top)
                         + (f" and {more} other reasons" if more > 0 else ""))
        if self.duplicate_kinds:
            parts.append("duplicates: " + ", ".join(f"{n} {k}"
                                                    for k, n in self.duplicate_kinds.most_common()))
        if parts:
            where = f" (see {rejects_path(self.path)})" if self.summary.rejected else ""
            click.echo(f"{self.name}: " + "; ".join(parts) + where, err=True)

    # -- finishing --------------------------------------------------------------------------------

    def _finalize(self) -> None:
        assert self._tmp_path is not None
        if self.test_size is None:
            if self.fmt == "jsonl":
                os.replace(self._tmp_path, self.path)
            elif self.fmt == "parquet":
                _jsonl_to_parquet([self._tmp_path], self.path)
            else:
                _jsonl_to_hf({None: self._tmp_path}, self.path)
            self.summary.outputs.append(str(self.path))
            return
        parts = self._split()
        try:
            targets = split_paths(self.path, self.fmt)
            if self.fmt == "jsonl":
                for split, part in parts.items():
                    os.replace(part, targets[split])
            elif self.fmt == "parquet":
                for split, part in parts.items():
                    _jsonl_to_parquet([part], targets[split])
            else:
                _jsonl_to_hf(parts, self.path)
        finally:
            for part in parts.values():
                part.unlink(missing_ok=True)
        self.summary.outputs.extend(dict.fromkeys(str(p) for p in split_paths(self.path, self.fmt).values()))

    def _split(self) -> dict[str, Path]:
        """Stream the written records into train/test temp files; the test rows are an exact,
        seeded sample (like ``datasets.Dataset.train_test_split``)."""
        assert self._tmp_path is not None and self.test_size is not None
        total = self.summary.written
        if self.test_size < 1:
            n_test = round(total * self.test_size)
            if total >= 2:
                n_test = min(max(n_test, 1), total - 1)
        else:
            n_test = int(self.test_size)
            if n_test >= total:
                raise InputError(f"--test-size {n_test} leaves no training records "
                                 f"(only {total} written)")
        test_rows = set(random.Random(self.seed).sample(range(total), n_test))
        self.summary.extra["train"] = total - n_test
        self.summary.extra["test"] = n_test
        parts = {split: self._tmp_path.with_name(self._tmp_path.name + f".{split}")
                 for split in ("train", "test")}
        with self._tmp_path.open("r", encoding="utf-8") as src, \
                parts["train"].open("w", encoding="utf-8") as train, \
                parts["test"].open("w", encoding="utf-8") as test:
            for i, line in enumerate(src):
                (test if i in test_rows else train).write(line)
        return parts


def _iter_jsonl_batches(path: Path, size: int = 2048) -> Iterator[list[dict]]:
    batch: list[dict] = []
    with path.open("r", encoding="utf-8") as fh:
        for line in fh:
            batch.append(json.loads(line))
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def _unified_schema(paths: list[Path]):
    """One Arrow schema for every record (two passes keep memory flat: infer, then write)."""
    import pyarrow as pa

    schema = None
    for path in paths:
        for batch in _iter_jsonl_batches(path):
            keys = dict.fromkeys(k for record in batch for k in record)  # from_pylist reads row 1
            batch_schema = pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in batch]).schema
            try:
                schema = batch_schema if schema is None else pa.unify_schemas(
                    [schema, batch_schema], promote_options="permissive")
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise RunFailed(f"records cannot share one Parquet schema: {exc}") from exc
    return schema


def _jsonl_to_parquet(paths: list[Path], target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _unified_schema(paths)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        if schema is None:
            pq.write_table(pa.table({}), tmp)
        else:
            with pq.ParquetWriter(tmp, schema) as writer:
                for path in paths:
                    for batch in _iter_jsonl_batches(path):
                        writer.write_table(pa.Table.from_pylist(batch, schema=schema))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonl_to_hf(parts: dict[str | None, Path], target: Path) -> None:
    """``save_to_disk`` folder (a Dataset, or a DatasetDict of splits), swapped in atomically."""
    import datasets

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    bars_were_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # our own bar already counted the records
    try:
        loaded = {}
        for split, part in parts.items():
            parquet = work / f"{split or 'data'}.parquet"
            _jsonl_to_parquet([part], parquet)
            loaded[split] = datasets.Dataset.from_parquet(str(parquet), cache_dir=str(work / "cache"))
        out = (datasets.DatasetDict({k: v for k, v in loaded.items()})
               if None not in loaded else loaded[None])
        staged = work / "dataset"
        out.save_to_disk(str(staged))
        swap_dir(staged, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if bars_were_on:
            datasets.enable_progress_bars()


def swap_dir(staged: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(staged, target)
    if old is not None:
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


def reason_category(reason: str) -> str:
    """``"syntax error: [string]:3: ..."`` -> ``"syntax error"`` (for the per-reason counts)."""
    head = re.sub(r"\[\d+\]", "[i]", reason.split(":", 1)[0].strip())
    return head if len(head) <= 60 else head[:57] + "..."
