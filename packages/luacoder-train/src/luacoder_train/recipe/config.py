"""The recipe schema shared by every trainer, and how a recipe becomes TRL arguments.

A recipe is one YAML file read top to bottom: the model, the data, the method, then any field of
the matching TRL config (``SFTConfig`` / ``DPOConfig`` / ..., which carry every transformers
``TrainingArguments`` field). Keys transformers/TRL renamed or dropped are rewritten with a notice
(:mod:`luacoder_train.recipe.keys`); unknown keys are all reported in one error naming the file,
each key and its closest known key (exit 2). Settings this machine cannot honour are named by
:mod:`luacoder_train.recipe.checks` before anything is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from luacoder_core.config import schema_from_dataclass
from luacoder_core.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DEEPSPEED_DIR = PACKAGE_DIR / "configs" / "deepspeed"
ACCELERATE_DIR = PACKAGE_DIR / "configs" / "accelerate"

#: keys luacoder adds on top of the TRL config (model, data, PEFT, luacoder behaviour)
BASE_KEYS: dict[str, Any] = {
    # model
    "model_name_or_path": str,
    "tokenizer_name_or_path": str | None,
    "model_revision": str | None,
    "dtype": str | None,
    "attn_implementation": str | None,
    "chat_template": str | None,
    # data
    "dataset": Any,
    "dataset_mixture": Any,
    "eval_dataset": Any,
    "eval_split_size": float | int | None,
    # PEFT
    "use_peft": bool,
    "lora_r": int,
    "lora_alpha": int,
    "lora_dropout": float,
    "lora_target_modules": str | list | None,
    "lora_modules_to_save": list | None,
    "use_dora": bool,
    "use_rslora": bool,
    "load_in_4bit": bool,
    "load_in_8bit": bool,
    "bnb_4bit_quant_type": Literal["nf4", "fp4"],
    "bnb_4bit_use_double_quant": bool,
    # luacoder
    "auto_resume": bool,
    "training_curve": bool,
    "eval_on_save": str | dict | None,
}

#: values of the luacoder keys when a recipe leaves them out
BASE_DEFAULTS: dict[str, Any] = {
    "tokenizer_name_or_path": None,
    "model_revision": None,
    "dtype": None,
    "attn_implementation": None,
    "chat_template": None,
    "dataset_mixture": None,
    "eval_dataset": None,
    "eval_split_size": None,
    "use_peft": False,
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "lora_target_modules": "all-linear",
    "lora_modules_to_save": None,
    "use_dora": False,
    "use_rslora": False,
    "load_in_4bit": False,
    "load_in_8bit": False,
    "bnb_4bit_quant_type": "nf4",
    "bnb_4bit_use_double_quant": True,
    "auto_resume": True,
    "training_curve": True,
    "eval_on_save": None,
}

REQUIRED = ("model_name_or_path", "output_dir")

#: TRL fields whose annotation is narrower than what TRL accepts
TYPE_WIDENING = {"loss_type": str | list, "report_to": str | list | None,
                 "lora_target_modules": str | list | None}


@dataclass
class Resolved:
    """A recipe split into luacoder's keys and the TRL config's keys, with the defaults applied."""

    trainer: str
    source: str
    raw: dict[str, Any]
    options: dict[str, Any]
    trl_kwargs: dict[str, Any]
    applied_defaults: dict[str, Any] = field(default_factory=dict)
    deepspeed_path: str | None = None
    #: one line per key luacoder rewrote, dropped or changed for this machine
    notices: list[str] = field(default_factory=list)
    #: settings this machine cannot honour that luacoder replaced (flash attention -> sdpa, ...)
    fallbacks: list[str] = field(default_factory=list)
    #: the recipe's ``dataset_mixture`` (a :class:`luacoder_train.data.mixture.Mixture`)
    mixture: Any = None

    @property
    def has_eval_data(self) -> bool:
        mixture = self.mixture
        return bool(self.options.get("eval_dataset") is not None or self.options.get("eval_split_size")
                    or (mixture is not None and (mixture.test_split_size or mixture.eval_sources)))

    @property
    def config_hash(self) -> str:
        text = json.dumps(self.raw, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def build_schema(config_cls: type, method_keys: dict[str, Any]) -> dict[str, Any]:
    schema = dict(schema_from_dataclass(config_cls))
    schema.update(BASE_KEYS)
    schema.update(method_keys)
    for key, tp in TYPE_WIDENING.items():
        if key in schema:
            schema[key] = tp
    return schema


def resolve_deepspeed(value: Any, source: str) -> str | dict | None:
    """``zero2`` / ``zero3`` / ``zero3_offload`` / ``zero3_bf16``... pick a shipped file, a path
    picks that file, a mapping is used as is."""
    if value is None or isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise ConfigError(f"deepspeed must be a name or a path, got {value!r}", file=source,
                          key="deepspeed")
    shipped = {p.stem: p for p in DEEPSPEED_DIR.glob("*.json")}
    if value in shipped:
        return str(shipped[value])
    path = Path(value)
    if not path.is_absolute() and not path.exists():
        # a path relative to the recipe file
        candidate = Path(source).parent / value
        if candidate.exists():
            path = candidate
    if path.is_file():
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"DeepSpeed config {path} is not JSON: {exc.msg} (line {exc.lineno})",
                              file=source, key="deepspeed") from exc
        return str(path.resolve())
    from luacoder_core.config import closest

    guess = closest(value, shipped)
    hint = f"; did you mean '{guess}'?" if guess else ""
    raise ConfigError(f"deepspeed '{value}' is neither a shipped config ({', '.join(sorted(shipped))}) "
                      f"nor a file{hint}", file=source, key="deepspeed")


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve(trainer: str, config: dict[str, Any], *, source: str, config_cls: type,
            method_keys: dict[str, Any], method_defaults: dict[str, Any],
            trl_defaults: dict[str, Any] | None = None) -> Resolved:
    """Validate a recipe and fill the defaults that make it run sanely on this machine.

    Every problem (unknown keys with their closest match, wrong types, a bad mixture, missing
    keys) is reported in one :class:`ConfigError`."""
    from luacoder_train.data import mixture as mixtures
    from luacoder_train.recipe.keys import sort_keys

    schema = build_schema(config_cls, method_keys)
    config, notices = mixtures.normalize(config)
    config, more, problems = sort_keys(config, schema, config_cls=config_cls)
    notices += more
    mixture = None
    if config.get("dataset_mixture") is not None:
        mixture = mixtures.parse(config["dataset_mixture"], recipe=source, problems=problems)
        if config.get("dataset") not in (None, "", []):
            problems.append("set one of 'dataset' and 'dataset_mixture', not both")
    elif config.get("dataset") in (None, "", []):
        problems.append("missing required key 'dataset' (or 'dataset_mixture')")
    for key in REQUIRED:
        if config.get(key) in (None, "", []):
            problems.append(f"missing required key '{key}'")
    if mixture is not None and mixture.test_split_size and (
            config.get("eval_split_size") or config.get("eval_dataset") is not None):
        problems.append("dataset_mixture.test_split_size and eval_dataset/eval_split_size both "
                        "make an eval set: keep one")
    raise_problems(problems, source)
    if mixture is not None:
        # the mixture's datasets are read like the luacoder 'dataset' list (same entry keys)
        config = {**config, "dataset": config["dataset_mixture"]["datasets"]}

    luacoder_keys = set(BASE_KEYS) | set(method_keys)
    options = {**BASE_DEFAULTS, **method_defaults}
    options.update({k: v for k, v in config.items() if k in luacoder_keys})
    trl_kwargs = {k: v for k, v in config.items() if k not in luacoder_keys}

    applied: dict[str, Any] = {}

    def default(key: str, value: Any) -> None:
        if key not in trl_kwargs:
            trl_kwargs[key] = value
            applied[key] = value

    for key, value in (trl_defaults or {}).items():
        default(key, value)
    on_gpu = cuda_available()
    if not on_gpu:
        # TRL defaults to bf16 and gradient checkpointing; on a CPU the first fails without
        # use_cpu and the second only costs time
        default("use_cpu", True)
        default("bf16", False)
        default("gradient_checkpointing", False)
        default("dataloader_num_workers", 0)
    default("report_to", "none")
    default("logging_steps", 1)
    default("disable_tqdm", True)  # luacoder's own progress line shows loss and tokens/s
    default("save_strategy", "steps")

    resolved = Resolved(trainer=trainer, source=source, raw=dict(config), options=options,
                        trl_kwargs=trl_kwargs, applied_defaults=applied, notices=notices,
                        mixture=mixture)
    if trl_kwargs.get("deepspeed") is not None:
        ds = resolve_deepspeed(trl_kwargs["deepspeed"], source)
        trl_kwargs["deepspeed"] = ds
        resolved.deepspeed_path = ds if isinstance(ds, str) else None
        data = ds if isinstance(ds, dict) else json.loads(Path(ds).read_text(encoding="utf-8"))
        if (data.get("bf16") or {}).get("enabled") is True and "bf16" not in config:
            # a bf16 DeepSpeed file must agree with the trainer's precision
            trl_kwargs["bf16"] = applied["bf16"] = True
    return resolved


def raise_problems(problems: list[str], source: str) -> None:
    """One problem: its message; several: all of them, one per line (exit 2 either way)."""
    if not problems:
        return
    if len(problems) == 1:
        raise ConfigError(problems[0], file=source)
    raise ConfigError(f"{len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems),
                      file=source)


def build_trl_args(resolved: Resolved, config_cls: type, *, dry_run: bool = False):
    """The TRL config object; its own validation errors become exit-2 config errors.

    A dry run leaves DeepSpeed out: building arguments with DeepSpeed starts the distributed
    backend, and the dry run only shows what would be trained."""
    kwargs = dict(resolved.trl_kwargs)
    if dry_run:
        kwargs.pop("deepspeed", None)
    else:
        prepare_distributed_env(resolved)
    try:
        return config_cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid training arguments: {exc}", file=resolved.source) from exc


def prepare_distributed_env(resolved: Resolved) -> None:
    """DeepSpeed outside a launcher falls back to MPI discovery (and needs mpi4py): give a single
    process the environment a launcher would."""
    if not os.environ.get("DS_ACCELERATOR") and not cuda_available():
        os.environ["DS_ACCELERATOR"] = "cpu"
    if resolved.trl_kwargs.get("deepspeed") is None or "RANK" in os.environ:
        return
    os.environ.update({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1",
                       "MASTER_ADDR": os.environ.get("MASTER_ADDR", "127.0.0.1")})
    os.environ.setdefault("MASTER_PORT", str(free_port()))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def zero_stage(ds: str | dict | None) -> int | None:
    if ds is None:
        return None
    data = ds if isinstance(ds, dict) else json.loads(Path(ds).read_text(encoding="utf-8"))
    return (data.get("zero_optimization") or {}).get("stage")


def init_deepspeed_distributed(args, resolved: Resolved) -> None:
    """NOTES fix A: with ZeRO-3 and several processes on CPU, accelerate creates the gloo group
    but never initialises ``deepspeed.comm``; ``zero.Init`` inside ``from_pretrained`` would then
    see world size 1. Initialise it before the model is built."""
    if zero_stage(resolved.trl_kwargs.get("deepspeed")) != 3:
        return
    import deepspeed

    _ = args.device  # sets up accelerate's process group
    backend = "nccl" if cuda_available() else "gloo"
    deepspeed.init_distributed(dist_backend=backend, auto_mpi_discovery=False)
