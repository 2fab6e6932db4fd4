"""Dataset loading shared by every trainer.

``dataset`` in a recipe is one of:

* a path: a JSON Lines / JSON / CSV / Parquet file of records, or a folder written by
  ``datasets.save_to_disk`` (or a hub dataset id, for a user with network);
* a list of paths, concatenated;
* a weighted mixture: a list of ``{path, weight, split}`` mappings. ``weight`` scales the number of
  rows taken from that source (0.5 keeps a seeded half, 2 repeats it twice); ``split`` picks a
  split of a ``DatasetDict`` folder or hub dataset and may slice it (``train[:90%]``,
  ``train[100:]``).

``eval_dataset`` takes the same forms; ``eval_split_size`` (a fraction or a count) holds out part
of the training data instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luacoder_core.errors import ConfigError, InputError

SOURCE_KEYS = {"path", "weight", "split"}
_SPLIT_RE = re.compile(r"^(?P<name>[\w.-]+)(?:\[(?P<start>-?\d+%?)?:(?P<end>-?\d+%?)?\])?$")


@dataclass
class Source:
    path: str
    weight: float = 1.0
    split: str = "train"


def parse_sources(value: Any, *, key: str, recipe: str) -> list[Source]:
    if isinstance(value, (str, Path)):
        return [Source(str(value))]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"'{key}' must be a path, a list of paths or a list of "
                          "{path, weight, split} mappings", file=recipe, key=key)
    sources = []
    for i, item in enumerate(value):
        if isinstance(item, (str, Path)):
            sources.append(Source(str(item)))
            continue
        if not isinstance(item, dict):
            raise ConfigError(f"{key}[{i}] must be a path or a mapping", file=recipe, key=key)
        unknown = set(item) - SOURCE_KEYS
        if unknown:
            from luacoder_core.config import unknown_key_message

            name = sorted(unknown)[0]
            raise ConfigError(unknown_key_message(f"{key}[{i}].{name}", SOURCE_KEYS), file=recipe)
        if "path" not in item:
            raise ConfigError(f"{key}[{i}] needs a 'path'", file=recipe, key=key)
        weight = item.get("weight", 1.0)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
            raise ConfigError(f"{key}[{i}].weight must be a positive number, got {weight!r}",
                              file=recipe, key=key)
        split = item.get("split", "train")
        if not isinstance(split, str) or not _SPLIT_RE.match(split):
            raise ConfigError(f"{key}[{i}].split must look like 'train' or 'train[:90%]', got "
                              f"{split!r}", file=recipe, key=key)
        sources.append(Source(str(item["path"]), float(weight), split))
    return sources


def locate(path: str, recipe: str) -> Path | None:
    """A path as given, else relative to the recipe's folder; ``None`` when neither exists."""
    candidate = Path(path)
    if candidate.exists():
        return candidate.resolve()
    relative = Path(recipe).parent / path
    if not candidate.is_absolute() and relative.exists():
        return relative.resolve()
    return None


def _slice(dataset, split: str):
    match = _SPLIT_RE.match(split)
    assert match is not None
    n = len(dataset)

    def bound(text: str | None, default: int) -> int:
        if text is None:
            return default
        value = round(n * int(text[:-1]) / 100) if text.endswith("%") else int(text)
        return max(0, min(n, value + n if value < 0 else value))

    if match.group("start") is None and match.group("end") is None and "[" not in split:
        return dataset
    start, end = bound(match.group("start"), 0), bound(match.group("end"), n)
    return dataset.select(range(start, max(start, end)))


def _load_file(path: Path):
    import datasets

    suffix = path.suffix.lower()
    builder = {".parquet": "parquet", ".csv": "csv", ".tsv": "csv"}.get(suffix, "json")
    kwargs = {"delimiter": "\t"} if suffix == ".tsv" else {}
    try:
        return datasets.load_dataset(builder, data_files=[str(path)], split="train", **kwargs)
    except Exception:
        # records the arrow reader cannot type (mixed metadata, bad lines): read them with
        # luacoder's reader, which names the file and line of a malformed record
        from luacoder_core.records import iter_records

        records = [s.record for s in iter_records(path)]
        if not records:
            raise InputError("no records", file=str(path)) from None
        try:
            return datasets.Dataset.from_list(records)
        except Exception as exc:
            raise InputError(f"records cannot be read as a table: {exc}", file=str(path)) from exc


def load_source(source: Source, recipe: str, key: str):
    import datasets

    path = locate(source.path, recipe)
    name = _SPLIT_RE.match(source.split).group("name")
    if path is None:
        if re.fullmatch(r"[\w.-]+/[\w.-]+", source.path) and not Path(source.path).suffix:
            try:
                dataset = datasets.load_dataset(source.path, split=name)
            except Exception as exc:
                raise InputError(f"dataset '{source.path}' is neither a file nor a folder, and the "
                                 f"hub could not provide it: {exc}", file=recipe, key=key) from exc
            return _slice(dataset, source.split)
        raise InputError(f"dataset file not found: {source.path}", file=recipe, key=key)
    if path.is_dir():
        try:
            loaded = datasets.load_from_disk(str(path))
        except Exception as exc:
            raise InputError(f"not a folder written by datasets.save_to_disk: {exc}",
                             file=str(path)) from exc
        if isinstance(loaded, datasets.DatasetDict):
            if name not in loaded:
                raise InputError(f"no split '{name}' (splits: {', '.join(loaded)})", file=str(path))
            loaded = loaded[name]
        return _slice(loaded, source.split)
    return _slice(_load_file(path), source.split)


def load_mixture(value: Any, *, key: str, recipe: str, seed: int,
                 columns: list[str], validate: Callable[[dict], None] | None = None):
    """Load, weight, validate and concatenate the sources of ``value``.

    Returns ``(dataset, files, skipped)``: only ``columns`` are kept; records that fail
    ``validate`` are dropped and counted in ``skipped`` (with the first reason) so nothing
    disappears silently.
    """
    import datasets

    parts = []
    files: list[str] = []
    skipped: list[str] = []
    for source in parse_sources(value, key=key, recipe=recipe):
        dataset = load_source(source, recipe, key)
        where = str(locate(source.path, recipe) or source.path)
        files.append(where)
        missing = [c for c in columns if c not in dataset.column_names]
        if missing:
            raise InputError(f"records have no '{missing[0]}' field (fields: "
                             f"{', '.join(dataset.column_names) or 'none'})", file=where)
        dataset = dataset.select_columns(columns)
        if validate is not None:
            keep, reasons = [], []
            for i, record in enumerate(dataset):
                try:
                    validate(record)
                    keep.append(i)
                except ValueError as exc:
                    reasons.append(f"{where}: record {i + 1}: {exc}")
            if reasons:
                skipped.append(f"{len(reasons)} unusable record(s) skipped, first: {reasons[0]}")
                dataset = dataset.select(keep)
        if len(dataset) == 0:
            raise InputError("no usable records", file=where)
        if source.weight != 1.0:
            dataset = _weighted(dataset, source.weight, seed)
        parts.append(dataset)
    dataset = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
    return dataset, files, skipped


def _weighted(dataset, weight: float, seed: int):
    import random

    n = len(dataset)
    whole, frac = divmod(weight, 1.0)
    indices = list(range(n)) * int(whole)
    extra = math.floor(n * frac + 0.5)
    indices += sorted(random.Random(seed).sample(range(n), extra))
    return dataset.select(indices or [0])


def split_eval(dataset, size: float | int, seed: int, recipe: str):
    if isinstance(size, float) and not 0 < size < 1:
        raise ConfigError(f"eval_split_size must be a fraction in (0, 1) or a count, got {size}",
                          file=recipe, key="eval_split_size")
    if isinstance(size, int) and not 0 < size < len(dataset):
        raise ConfigError(f"eval_split_size {size} must be below the {len(dataset)} training records",
                          file=recipe, key="eval_split_size")
    parts = dataset.train_test_split(test_size=size, seed=seed)
    return parts["train"], parts["test"]
