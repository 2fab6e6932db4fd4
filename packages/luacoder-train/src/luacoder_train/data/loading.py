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
of the training data instead. ``dataset_mixture`` (alignment-handbook's and TRL's form) is read by
:mod:`luacoder_train.data.mixture` into the same :class:`Source` list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luacoder_core.errors import ConfigError, InputError

#: a dataset entry's keys: luacoder's ``path``/``weight``/``split``, alignment-handbook's ``id``/
#: ``config``/``columns`` and TRL's ``name``/``data_dir``/``data_files``/``fraction``
ENTRY_KEYS = ("id", "path", "config", "name", "split", "columns", "weight", "fraction", "data_dir",
              "data_files", "revision")
_SPLIT_RE = re.compile(r"^(?P<name>[\w.-]+)(?:\[(?P<start>-?\d+%?)?:(?P<end>-?\d+%?)?\])?$")


@dataclass
class Source:
    path: str
    weight: float = 1.0
    split: str = "train"
    #: the hub dataset's configuration (``load_dataset(path, name)``)
    config: str | None = None
    #: columns to keep (``None``: the trainer's)
    columns: list[str] | None = None
    data_dir: str | None = None
    data_files: Any = None
    #: TRL's share of the final mixture (normalised over the mixture's sources)
    fraction: float | None = None
    revision: str | None = None

    @property
    def label(self) -> str:
        extra = [f"config {self.config}"] if self.config and self.config != "default" else []
        if self.split != "train":
            extra.append(f"split {self.split}")
        return self.path + (f" ({', '.join(extra)})" if extra else "")


def parse_sources(value: Any, *, key: str, recipe: str) -> list[Source]:
    if isinstance(value, (str, Path)):
        return [Source(str(value))]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"'{key}' must be a path, a list of paths or a list of "
                          "{path, weight, split} mappings", file=recipe, key=key)
    problems: list[str] = []
    sources = parse_entries(value, key, problems, required=True)
    if problems:
        from luacoder_train.recipe.config import raise_problems

        raise_problems(problems, recipe)
    return sources


def parse_entries(items: Any, where: str, problems: list[str], *, required: bool) -> list[Source]:
    """Dataset entries in luacoder's, alignment-handbook's or TRL's names; each problem is
    appended to ``problems``."""
    from luacoder_core.config import unknown_key_message

    if isinstance(items, (str, Path)):
        items = [items]
    if not isinstance(items, list) or (required and not items):
        problems.append(f"key '{where}' must be a non-empty list of datasets, each with an 'id'")
        return []
    sources = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if isinstance(item, (str, Path)):
            sources.append(Source(str(item)))
            continue
        if not isinstance(item, dict):
            problems.append(f"key '{at}' must be a path or a mapping with an 'id'")
            continue
        bad = False
        for key in item:
            if key not in ENTRY_KEYS:
                problems.append(unknown_key_message(f"{at}.{key}", ENTRY_KEYS))
                bad = True
        ident = item.get("id", item.get("path"))
        if not isinstance(ident, str) or not ident:
            problems.append(f"key '{at}' needs an 'id' (a hub dataset or a local file or folder)")
            continue
        split = item.get("split", "train")
        if not isinstance(split, str) or not _SPLIT_RE.match(split):
            problems.append(f"key '{at}.split' must look like 'train' or 'train[:90%]', got {split!r}")
            bad = True
        weight = item.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            problems.append(f"key '{at}.weight' must be a positive number, got {weight!r}")
            bad = True
        fraction = item.get("fraction")
        if fraction is not None and (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
                                     or fraction < 0):
            problems.append(f"key '{at}.fraction' must be a number >= 0, got {fraction!r}")
            bad = True
        columns = item.get("columns")
        if columns is not None and (not isinstance(columns, list)
                                    or not all(isinstance(c, str) for c in columns)):
            problems.append(f"key '{at}.columns' must be a list of column names, got {columns!r}")
            bad = True
        config = item.get("config", item.get("name"))
        if bad:
            continue
        sources.append(Source(ident, float(weight), split, config=config, columns=columns,
                              data_dir=item.get("data_dir"), data_files=item.get("data_files"),
                              fraction=fraction, revision=item.get("revision")))
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


def _hub_like(path: str) -> bool:
    return bool(re.fullmatch(r"[\w.-]+(/[\w.-]+)?", path)) and not Path(path).suffix


def resolve_local(source: Source, recipe: str) -> tuple[Path | None, str]:
    """The local file or folder a source reads (``None``: not local) and the split to take from
    it: a data-stage split file (``chat.test.jsonl`` for ``chat.jsonl`` + ``split: test``) is
    read whole, as its split ``train``."""
    name = _SPLIT_RE.match(source.split).group("name")
    path = locate(source.path, recipe)
    if path is not None and path.is_dir():
        return path, source.split
    suffix = Path(source.path).suffix
    if suffix and name != "train":
        sibling = locate(f"{source.path[: -len(suffix)]}.{name}{suffix}", recipe)
        if sibling is not None and sibling.is_file():
            return sibling, source.split.replace(name, "train", 1)
    return path, source.split


def load_source(source: Source, recipe: str, key: str):
    """One source as a ``datasets.Dataset``: a local file or folder (relative to the recipe's
    folder too), else a hub dataset (for a user with network)."""
    path, split = resolve_local(source, recipe)
    name = _SPLIT_RE.match(split).group("name")
    if path is None:
        if _hub_like(source.path):
            return _slice(load_hub(source, name, recipe, key), split)
        raise InputError(f"dataset file not found: {source.path}", file=recipe, key=key)
    if path.is_dir():
        return _slice(_load_folder(path, source, name, recipe, key), split)
    if name != "train":
        raise InputError(f"'{source.path}' is one file, so it has only the split 'train' (asked for "
                         f"'{name}'; the data stage writes NAME.{name}.jsonl next to it with "
                         "--test-size)", file=recipe, key=key)
    return _slice(_load_file(path), split)


def load_hub(source: Source, name: str, recipe: str, key: str):
    import datasets
    from luacoder_core.errors import InputError as _InputError

    try:
        return datasets.load_dataset(source.path, name=source.config, split=name,
                                     data_dir=source.data_dir, data_files=source.data_files,
                                     revision=source.revision)
    except Exception as exc:
        offline = " (HF_HUB_OFFLINE is set)" if _offline() else ""
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _InputError(f"dataset '{source.path}' is neither a local file nor a folder, and the "
                          f"hub could not provide it{offline}: {first}", file=recipe,
                          key=key) from None


def _offline() -> bool:
    import os

    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def _load_folder(path: Path, source: Source, name: str, recipe: str, key: str):
    """A ``save_to_disk`` folder (a ``Dataset``, a ``DatasetDict``, or handbook-style one folder
    per split), else a folder of data files whose names give the splits."""
    import datasets

    saved = (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()
    if not saved and (path / name / "state.json").is_file():
        path, saved = path / name, True  # alignment-handbook's local layout: folder/split
    if saved:
        try:
            loaded = datasets.load_from_disk(str(path))
        except Exception as exc:
            raise InputError(f"not a folder written by datasets.save_to_disk: {exc}",
                             file=str(path)) from exc
        if isinstance(loaded, datasets.DatasetDict):
            if name not in loaded:
                raise InputError(f"no split '{name}' (splits: {', '.join(loaded)})", file=str(path))
            loaded = loaded[name]
        return loaded
    try:
        config = None if source.config in (None, "default") else source.config
        loaded = datasets.load_dataset(str(path), name=config, data_dir=source.data_dir,
                                       data_files=source.data_files)
    except Exception as exc:
        raise InputError(f"folder is neither a save_to_disk folder nor a folder of data files: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                         file=str(path)) from None
    if name not in loaded:
        raise InputError(f"no split '{name}' (splits: {', '.join(loaded)})", file=str(path))
    return loaded[name]


def load_mixture(value: Any, *, key: str, recipe: str, seed: int,
                 columns: list[str], validate: Callable[[dict], None] | None = None,
                 adapt: Callable[[Any, str], Any] | None = None,
                 provenance: list[dict] | None = None):
    """Load, weight, validate and concatenate the sources of ``value`` (a recipe's ``dataset``
    value, or a list of :class:`Source` from a ``dataset_mixture``).

    Returns ``(dataset, files, skipped)``: only ``columns`` are kept; records that fail
    ``validate`` are dropped and counted in ``skipped`` (with the first reason) so nothing
    disappears silently. ``adapt(dataset, where)`` may rewrite a source's records into the
    trainer's form first (DPO: the prompt out of conversational chosen/rejected). One dict per
    source (where it came from, rows read, rows used) is appended to ``provenance``.
    """
    import datasets

    sources = value if _is_sources(value) else parse_sources(value, key=key, recipe=recipe)
    parts = []
    files: list[str] = []
    skipped: list[str] = []
    info: list[dict] = []
    for source in sources:
        dataset = load_source(source, recipe, key)
        located = resolve_local(source, recipe)[0]
        where = str(located or source.path)
        files.append(where if source.split == "train" else f"{where}:{source.split}")
        read = len(dataset)
        if source.columns:
            absent = [c for c in source.columns if c not in dataset.column_names]
            if absent:
                raise InputError(f"columns {absent} not in the dataset (columns: "
                                 f"{', '.join(dataset.column_names) or 'none'})", file=recipe,
                                 key=key)
            dataset = dataset.select_columns(list(source.columns))
        if adapt is not None:
            dataset = adapt(dataset, where)
        missing = [c for c in columns if c not in dataset.column_names]
        if missing:
            raise InputError(f"records have no '{missing[0]}' field (fields: "
                             f"{', '.join(dataset.column_names) or 'none'})", file=where)
        dataset = dataset.select_columns(columns)
        n_skipped = 0
        if validate is not None:
            keep, reasons = [], []
            for i, record in enumerate(dataset):
                try:
                    validate(record)
                    keep.append(i)
                except ValueError as exc:
                    reasons.append(f"{where}: record {i + 1}: {exc}")
            if reasons:
                n_skipped = len(reasons)
                skipped.append(f"{len(reasons)} unusable record(s) skipped, first: {reasons[0]}")
                dataset = dataset.select(keep)
        if len(dataset) == 0:
            raise InputError("no usable records", file=where)
        if source.weight != 1.0:
            dataset = _weighted(dataset, source.weight, seed)
        parts.append(dataset)
        label = source.label if located is None else source.label.replace(
            source.path, Path(source.path).name, 1)
        info.append({"source": label, "path": where, "rejected": _rejected(located, source, recipe), "local": located is not None,
                     "split": source.split, "config": source.config, "weight": source.weight,
                     "fraction": source.fraction, "read": read, "skipped": n_skipped,
                     "rows": len(dataset)})
    fractions = [s.fraction for s in sources]
    if any(f is not None for f in fractions):
        parts = _fractions(parts, fractions, recipe, key)
        for entry, part in zip(info, parts):
            entry["rows"] = len(part)
        parts = [p for p in parts if len(p)]
    dataset = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
    if provenance is not None:
        provenance.extend(info)
    return dataset, files, skipped


def _rejected(located: Path | None, source: Source, recipe: str) -> int | None:
    """Records the data stage rejected for this output: the lines of ``NAME.rejects.jsonl``
    next to the file (or next to ``chat.jsonl`` for its split file ``chat.test.jsonl``)."""
    if located is None or not located.is_file():
        return None
    for base in (str(located), source.path, str(Path(recipe).parent / source.path)):
        rejects = Path(f"{base}.rejects.jsonl")
        if rejects.is_file():
            with rejects.open("rb") as fh:
                return sum(1 for line in fh if line.strip())
    return None


def _is_sources(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Source) for v in value)


def _fractions(parts: list, fractions: list, recipe: str, key: str) -> list:
    """TRL's ``fraction``: target shares of the final mixture, normalised to one; the mixture is
    as large as it can be without repeating any source; the first rows of each are kept."""
    if any(f is None for f in fractions):
        raise InputError("'fraction' must be set for every dataset of the mixture or for none",
                         file=recipe, key=key)
    total = sum(fractions)
    weights = [f / total for f in fractions]
    size = min(len(p) / w for p, w in zip(parts, weights) if w > 0)
    return [p.select(range(round(w * size))) for p, w in zip(parts, weights)]


def _weighted(dataset, weight: float, seed: int):
    import random

    n = len(dataset)
    whole, frac = divmod(weight, 1.0)
    indices = list(range(n)) * int(whole)
    extra = math.floor(n * frac + 0.5)
    indices += sorted(random.Random(seed).sample(range(n), extra))
    return dataset.select(indices or [0])


def split_eval(dataset, size: float | int, seed: int, recipe: str, key: str = "eval_split_size"):
    """Hold ``size`` records (a fraction or a count) out of ``dataset`` as the eval set."""
    if isinstance(size, float) and not 0 < size < 1:
        raise ConfigError(f"{key} must be a fraction in (0, 1) or a count, got {size}",
                          file=recipe, key=key)
    if isinstance(size, int) and not 0 < size < len(dataset):
        raise ConfigError(f"{key} {size} must be below the {len(dataset)} training records "
                          "(a count; a fraction like 0.1 holds out that share)", file=recipe, key=key)
    parts = dataset.train_test_split(test_size=size, seed=seed)
    return parts["train"], parts["test"]
