"""``dataset_mixture``: the data block of alignment-handbook's and TRL's recipes.

alignment-handbook (``recipes/*/config*.yaml``)::

    dataset_mixture:
      datasets:
        - id: HuggingFaceH4/Code-Feedback      # a hub dataset, or a local file / folder
          config: default
          split: train_sft
          columns: [messages]
          weight: 1.0                          # share of that dataset's rows kept (seeded)
      test_split_size: 1000                    # held out of the mixture as the eval set
      seed: 0

TRL's ``DatasetMixtureConfig`` names are read too (``path``, ``name``, ``data_dir``,
``data_files``, ``fraction``; ``streaming``), under ``dataset_mixture`` or at the top level of the
recipe (``datasets:``, ``test_split_size:``, as ``trl sft --config`` takes them), and so are the
older forms: the handbook's ``dataset_mixer: {id: weight}`` (with ``dataset_splits`` and
``dataset_configs``) and TRL's ``dataset_name`` / ``dataset_config`` / ``dataset_train_split`` /
``dataset_test_split``. Each becomes one ``dataset_mixture`` before the recipe is checked, with a
notice saying so.

A local ``id`` is a JSON Lines / JSON / CSV / Parquet file, a ``save_to_disk`` folder, a folder
of data files, or a data-stage output: ``split: test`` of ``chat.jsonl`` reads the
``chat.test.jsonl`` that ``luacoder data ... --test-size`` wrote next to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from luacoder_train.data.loading import Source, parse_entries

MIXTURE_KEYS = ("datasets", "test_split_size", "seed", "streaming")
#: TRL ScriptArguments for one dataset
SCRIPT_KEYS = ("dataset_name", "dataset_config", "dataset_train_split", "dataset_test_split")


@dataclass
class Mixture:
    sources: list[Source]
    test_split_size: float | int | None = None
    seed: int | None = None
    #: a separate eval mixture (TRL's ``dataset_test_split``)
    eval_sources: list[Source] | None = None


def normalize(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Rewrite the older data forms into ``dataset_mixture``; returns ``(config, notices)``."""
    config = dict(config)
    notices: list[str] = []
    if "datasets" in config and "dataset_mixture" not in config:
        block = {k: config.pop(k) for k in MIXTURE_KEYS if k in config}
        config["dataset_mixture"] = block
        notices.append("top-level 'datasets' (TRL's DatasetMixtureConfig) read as dataset_mixture")
    if "dataset_mixer" in config and "dataset_mixture" not in config:
        mixer = config.pop("dataset_mixer")
        splits = config.pop("dataset_splits", ["train", "test"])
        configs = config.pop("dataset_configs", None)
        if isinstance(mixer, dict) and isinstance(splits, list):
            names = list(mixer)
            cfgs = configs if isinstance(configs, list) and len(configs) == len(names) else [None] * len(names)
            entries, evals = [], []
            for (name, weight), cfg in zip(mixer.items(), cfgs):
                for split in splits:
                    entry = {"id": name, "split": split}
                    if cfg is not None:
                        entry["config"] = cfg
                    if "test" in str(split):
                        evals.append(entry)  # handbook: test splits are never subsampled
                    else:
                        entries.append({**entry, "weight": weight})
            config["dataset_mixture"] = {"datasets": entries}
            if evals:
                config["dataset_mixture"]["eval_datasets"] = evals
            notices.append("'dataset_mixer' (alignment-handbook's older form) read as dataset_mixture"
                           f" with {len(entries)} training and {len(evals)} test source(s)")
        else:
            config["dataset_mixer"] = mixer  # left for the checker to report
    if "dataset_name" in config and "dataset_mixture" not in config and "dataset" not in config:
        name = config.pop("dataset_name")
        entry = {"id": name, "split": config.pop("dataset_train_split", "train")}
        if config.get("dataset_config") is not None:
            entry["config"] = config.pop("dataset_config")
        config.pop("dataset_config", None)
        block: dict[str, Any] = {"datasets": [entry]}
        if "dataset_test_split" in config:
            block["eval_datasets"] = [{**entry, "split": config.pop("dataset_test_split")}]
        config["dataset_mixture"] = block
        notices.append(f"'dataset_name: {name}' (TRL's ScriptArguments) read as dataset_mixture")
    return config, notices


def parse(value: Any, *, recipe: str, problems: list[str]) -> Mixture | None:
    """Check a ``dataset_mixture`` block; problems (unknown keys with their closest match, bad
    values) are appended to ``problems`` so they are reported with the recipe's others."""
    from luacoder_core.config import unknown_key_message

    if not isinstance(value, dict):
        problems.append("key 'dataset_mixture' must be a mapping with 'datasets' (a list of "
                        "{id, config, split, columns, weight}), 'test_split_size' and 'seed'")
        return None
    known = (*MIXTURE_KEYS, "eval_datasets")
    for key in value:
        if key not in known:
            problems.append(unknown_key_message(f"dataset_mixture.{key}", known))
    if value.get("streaming"):
        problems.append("key 'dataset_mixture.streaming': luacoder loads datasets in full; set "
                        "streaming: false (or leave it out)")
    size = value.get("test_split_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, float))
                             or (isinstance(size, float) and not 0 < size < 1) or size <= 0):
        problems.append(f"key 'dataset_mixture.test_split_size' must be a fraction in (0, 1) or a "
                        f"count of records, got {size!r}")
    seed = value.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        problems.append(f"key 'dataset_mixture.seed' must be an integer, got {seed!r}")
    sources = parse_entries(value.get("datasets"), "dataset_mixture.datasets", problems, required=True)
    evals = None
    if value.get("eval_datasets") is not None:
        evals = parse_entries(value["eval_datasets"], "dataset_mixture.eval_datasets", problems,
                         required=True)
    return Mixture(sources, size, seed, evals)
