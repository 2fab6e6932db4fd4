"""Keys that recipes from alignment-handbook and TRL carry but current transformers/TRL renamed or
dropped, and the one pass that sorts every key of a recipe.

A recipe key is, in this order:

1. known: a field of the trainer's TRL config class (``SFTConfig``, ``DPOConfig``, ``GRPOConfig``,
   whatever :meth:`BaseTrainer.config_class` returns), a luacoder key or a method key;
2. renamed or dropped (:data:`RENAMED`): accepted, rewritten to its new name (or left out) with a
   one-line notice saying what it became. An entry applies only where the trainer's config lacks
   the old name and has the new one, so a trainer whose config still has the key gets it as is;
3. a field of another TRL trainer's config (``beta`` in a chat recipe, ``packing`` in a DPO one):
   left out with a notice naming the trainer config that has it;
4. unknown: every one is reported, each with its closest known key, in one error (exit 2).

Wrong value types are reported in the same error. The table is checked against the installed
transformers/TRL by ``tests/test_train_recipes.py`` and printed in the README.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: TRL config classes whose fields a recipe may carry for another trainer (names in ``trl``)
TRL_CONFIGS = ("SFTConfig", "DPOConfig", "GRPOConfig", "RewardConfig", "KTOConfig")


@dataclass(frozen=True)
class Renamed:
    old: str
    #: the key it became; ``None``: dropped (left out with the notice)
    new: str | None
    #: where and when it changed (checked against the installed versions by the tests)
    changed: str
    #: what luacoder does with it, for the notice
    note: str = ""
    #: value conversion (old value -> new value); raises ``ValueError`` with a reason
    convert: Callable[[Any], Any] | None = None


def _ratio(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"warmup_ratio must be a number in [0, 1), got {value!r}")
    return value


def _flash(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError(f"use_flash_attention_2 must be true or false, got {value!r}")
    return "flash_attention_2" if value else None


def _reentrant(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError(f"gradient_checkpointing_use_reentrant must be true or false, got {value!r}")
    return {"use_reentrant": value}


RENAMED: tuple[Renamed, ...] = (
    Renamed("torch_dtype", "dtype", "transformers 4.56 (from_pretrained) and TRL ModelConfig"),
    Renamed("max_seq_length", "max_length", "TRL 0.16 deprecated, 0.20 removed (SFTConfig)"),
    Renamed("evaluation_strategy", "eval_strategy", "transformers 4.41 deprecated, 4.46 removed"),
    Renamed("warmup_ratio", "warmup_steps", "transformers 5.0 deprecated, 5.15 removed",
            "a warmup_steps below 1 is that share of the training steps", _ratio),
    Renamed("overwrite_output_dir", None, "transformers 5 removed",
            "luacoder resumes from the last complete checkpoint in output_dir; "
            "auto_resume: false starts over"),
    Renamed("logging_dir", None, "transformers 5.15 removed",
            "trackers write under output_dir (TensorBoard: output_dir/runs/; TENSORBOARD_LOGGING_DIR picks another folder)"),
    Renamed("save_safetensors", None, "transformers 5 removed", "weights are always safetensors"),
    Renamed("no_cuda", "use_cpu", "transformers 5 removed"),
    Renamed("per_gpu_train_batch_size", "per_device_train_batch_size", "transformers 5 removed"),
    Renamed("per_gpu_eval_batch_size", "per_device_eval_batch_size", "transformers 5 removed"),
    Renamed("push_to_hub_model_id", "hub_model_id", "transformers 5 removed"),
    Renamed("push_to_hub_token", "hub_token", "transformers 5 removed"),
    Renamed("include_tokens_per_second", None, "transformers 5 removed",
            "luacoder logs tokens_per_second at every logging step"),
    Renamed("max_prompt_length", None, "not in TRL 1.x DPOConfig or GRPOConfig",
            "prompts are not cut on their own: DPO truncates prompt + completion together to "
            "max_length (truncation_mode)"),
    Renamed("max_completion_length", None, "not in TRL 1.x DPOConfig",
            "DPO truncates prompt + completion together to max_length (truncation_mode)"),
    Renamed("max_target_length", None, "not in TRL 1.x DPOConfig",
            "DPO truncates prompt + completion together to max_length (truncation_mode)"),
    Renamed("use_flash_attention_2", "attn_implementation",
            "transformers 4.36 (attn_implementation); alignment-handbook ModelArguments", "",
            _flash),
    Renamed("use_bnb_nested_quant", "bnb_4bit_use_double_quant",
            "TRL ModelConfig / alignment-handbook name"),
    Renamed("text_column", "dataset_text_field", "alignment-handbook DataArguments (old recipes)"),
    Renamed("preprocessing_num_workers", "dataset_num_proc",
            "alignment-handbook DataArguments (old recipes)"),
    Renamed("gradient_checkpointing_use_reentrant", "gradient_checkpointing_kwargs",
            "TRL ScriptArguments", "", _reentrant),
    Renamed("auto_insert_empty_system_msg", None, "alignment-handbook DataArguments (old recipes)",
            "the chat template decides about system messages"),
    Renamed("truncation_side", None, "alignment-handbook DataArguments (old recipes)",
            "rows are packed, or cut at max_length (truncation_mode)"),
    Renamed("model_code_revision", None, "alignment-handbook ModelArguments",
            "model_revision selects the revision"),
    Renamed("ignore_bias_buffers", None, "TRL ScriptArguments", "only a DDP debugging aid"),
    Renamed("lora_task_type", None, "TRL ModelConfig", "luacoder trains causal LMs (CAUSAL_LM)"),
    Renamed("dataset_streaming", None, "TRL ScriptArguments",
            "luacoder loads datasets in full (streaming: true is refused)"),
)

BY_OLD: dict[str, Renamed] = {r.old: r for r in RENAMED}


def _fmt(value: Any) -> str:
    import json

    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def other_trl_fields(own: type) -> dict[str, str]:
    """Field name -> TRL config class name, for the TRL configs other than ``own``."""
    import dataclasses

    import trl

    fields: dict[str, str] = {}
    for name in TRL_CONFIGS:
        try:
            cls = getattr(trl, name)
        except Exception:  # noqa: BLE001 - a config TRL does not ship (or cannot import) here
            continue
        if cls is own:
            continue
        for f in dataclasses.fields(cls):
            fields.setdefault(f.name, name)
    return fields


def sort_keys(config: dict[str, Any], schema: Mapping[str, Any], *, config_cls: type,
              ) -> tuple[dict[str, Any], list[str], list[str]]:
    """Rewrite renamed keys, drop dropped ones; return ``(config, notices, problems)``.

    ``problems`` holds one line per unknown key (with its closest match) and per value of the
    wrong type; the caller raises them together."""
    from luacoder_core.config import type_name, type_ok, unknown_key_message

    out: dict[str, Any] = {}
    notices: list[str] = []
    problems: list[str] = []
    others: dict[str, str] | None = None
    cls_name = config_cls.__name__
    for key, value in config.items():
        if key in schema:
            out[key] = value
            continue
        entry = BY_OLD.get(key)
        if entry is not None and (entry.new is None or entry.new in schema):
            if entry.new is None:
                notices.append(f"'{key}' dropped ({entry.changed}): {entry.note or 'ignored'}")
                continue
            try:
                new_value = entry.convert(value) if entry.convert else value
            except ValueError as exc:
                problems.append(str(exc))
                continue
            if entry.new in config and config[entry.new] != new_value:
                problems.append(f"'{key}' is the old name of '{entry.new}' ({entry.changed}) and "
                                f"both are set, to different values: keep one")
                continue
            out[entry.new] = new_value
            notices.append(f"'{key}: {_fmt(value)}' -> '{entry.new}: {_fmt(new_value)}' "
                           f"({entry.changed})" + (f": {entry.note}" if entry.note else ""))
            continue
        if others is None:
            others = other_trl_fields(config_cls)
        if key in others:
            notices.append(f"'{key}' ignored: a {others[key]} field, not used by this trainer "
                           f"({cls_name})")
            continue
        problems.append(unknown_key_message(key, schema))
    for key, value in out.items():
        tp = schema[key]
        if isinstance(tp, dict):
            continue
        if not type_ok(value, tp):
            problems.append(f"key '{key}' must be {type_name(tp)}, got {value!r} "
                            f"({type(value).__name__})")
    return out, notices, problems
