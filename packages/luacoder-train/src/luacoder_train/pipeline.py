"""The shared run of every trainer: recipe -> tokenizer -> data -> (dry run | model -> train ->
final model, luacoder.json, training_curve.png)."""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import yaml
from luacoder_core.errors import ConfigError, InputError, LuacoderError, RunFailed

from luacoder_train import __version__
from luacoder_train.outputs import checkpoints as ckpt
from luacoder_train.recipe.checks import check_machine
from luacoder_train.recipe.config import (
    Resolved,
    build_trl_args,
    cuda_available,
    init_deepspeed_distributed,
    resolve,
)
from luacoder_train.trainers.base import BaseTrainer, Context


def is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def say(text: str = "") -> None:
    if is_main_process():
        print(text, flush=True)


def warn(text: str) -> None:
    if is_main_process():
        print(f"warning: {text}", file=sys.stderr, flush=True)


def notice(text: str) -> None:
    if is_main_process():
        print(f"notice: {text}", file=sys.stderr, flush=True)


def quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not cuda_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    import datasets
    import transformers

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*deprecated.*")
    warnings.filterwarnings("ignore", message=".*all_gather_into_tensor.*deprecated.*")


def run_trainer(trainer: BaseTrainer, config: dict[str, Any], *, source: str, dry_run: bool,
                callbacks: list | None = None) -> Any:
    config_cls = trainer.config_class()
    resolved = resolve(trainer.name, config, source=source, config_cls=config_cls,
                       method_keys=trainer.method_keys, method_defaults=trainer.method_defaults,
                       trl_defaults=trainer.trl_defaults)
    check_machine(resolved, dry_run=dry_run)
    for line in resolved.notices:
        notice(f"{source}: {line}")
    for line in resolved.fallbacks:
        warn(f"{source}: {line}")
    eval_config = None
    if resolved.options.get("eval_on_save"):
        from luacoder_train.outputs.eval_on_save import resolve_eval_config

        eval_config = resolve_eval_config(resolved.options["eval_on_save"], source)
    quiet_libraries()
    args = build_trl_args(resolved, config_cls, dry_run=dry_run)
    ctx = Context(name=trainer.name, resolved=resolved, args=args, tokenizer=None)

    ctx.tokenizer = load_tokenizer(resolved)
    if trainer.uses_chat_template:
        apply_chat_template(ctx)
    with args.main_process_first(desc="dataset preparation"):
        load_data(trainer, ctx)
        trainer.prepare(ctx)
    for note in ctx.skipped:
        warn(note)

    if dry_run:
        say(dry_run_report(trainer, ctx))
        return ctx.stats

    init_deepspeed_distributed(args, resolved)
    ctx.model = load_model(ctx)
    ctx.peft_config = peft_config(resolved.options)
    hf_trainer = trainer.build(ctx)
    for callback in callbacks or []:
        hf_trainer.add_callback(callback)
    if eval_config is not None:
        from luacoder_train.outputs.eval_on_save import EvalOnSave

        evaluator = EvalOnSave(eval_config, args.output_dir)
        evaluator.trainer = hf_trainer
        hf_trainer.add_callback(evaluator.callback())
    return train(trainer, ctx, hf_trainer)


# ------------------------------------------------------------------------------------------------
# Model and tokenizer
# ------------------------------------------------------------------------------------------------


def model_path(resolved: Resolved) -> str:
    """A local folder as an absolute path (so adapters and luacoder.json point at it from
    anywhere); a hub id as given."""
    name = resolved.options.get("model_name_or_path") or resolved.raw["model_name_or_path"]
    path = Path(name)
    if path.exists():
        return str(path.resolve())
    relative = Path(resolved.source).parent / name
    if not path.is_absolute() and relative.exists():
        return str(relative.resolve())
    return name


def load_tokenizer(resolved: Resolved):
    from transformers import AutoTokenizer

    name = resolved.options.get("tokenizer_name_or_path") or model_path(resolved)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, revision=resolved.options.get("model_revision"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load the tokenizer of '{name}': {exc}", file=resolved.source,
                         key="model_name_or_path") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def apply_chat_template(ctx: Context) -> None:
    """The recipe's template, else the tokenizer's, else ChatML; saved with the tokenizer so
    checkpoints carry it."""
    from luacoder_train.chat_templates import TEMPLATE_TOKENS, TEMPLATES, resolve_template

    tokenizer = ctx.tokenizer
    text, name = resolve_template(ctx.options.get("chat_template"))
    if text is None and tokenizer.chat_template:
        ctx.template = tokenizer.chat_template
        return
    if text is None:
        text, name = TEMPLATES["chatml"], "chatml"
        ctx.notes.append("the tokenizer has no chat template: using ChatML")
    missing = [t for t in TEMPLATE_TOKENS.get(name or "", []) if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
        ctx.notes.append(f"added {', '.join(missing)} to the vocabulary (embeddings resized)")
    tokenizer.chat_template = text
    ctx.template = text


def load_model(ctx: Context):
    import torch
    from transformers import AutoModelForCausalLM

    options = ctx.options
    kwargs: dict[str, Any] = {}
    if options.get("dtype"):
        dtype = options["dtype"]
        kwargs["dtype"] = dtype if dtype == "auto" else getattr(torch, dtype)
    if options.get("attn_implementation"):
        kwargs["attn_implementation"] = options["attn_implementation"]
    if options.get("model_revision"):
        kwargs["revision"] = options["model_revision"]
    if getattr(ctx.args, "trust_remote_code", False):
        kwargs["trust_remote_code"] = True
    if options.get("load_in_8bit"):
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
    if options.get("load_in_4bit"):
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type=options["bnb_4bit_quant_type"],
            bnb_4bit_use_double_quant=options["bnb_4bit_use_double_quant"],
            bnb_4bit_compute_dtype=torch.bfloat16)
    name = model_path(ctx.resolved)
    try:
        model = AutoModelForCausalLM.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load model '{name}': {exc}", file=ctx.resolved.source,
                         key="model_name_or_path") from exc
    if len(ctx.tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(ctx.tokenizer))
    end_of_turn = ctx.tokenizer.convert_tokens_to_ids("<|im_end|>") if ctx.template else None
    if end_of_turn is not None and end_of_turn != ctx.tokenizer.unk_token_id and model.generation_config:
        eos = model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if end_of_turn not in eos and "<|im_end|>" in (ctx.template or ""):
            model.generation_config.eos_token_id = eos + [end_of_turn]
    return model


def peft_config(options: dict[str, Any]):
    if not options.get("use_peft"):
        return None
    from peft import LoraConfig

    return LoraConfig(r=options["lora_r"], lora_alpha=options["lora_alpha"],
                      lora_dropout=options["lora_dropout"],
                      target_modules=options["lora_target_modules"], use_dora=options["use_dora"],
                      use_rslora=options.get("use_rslora", False),
                      modules_to_save=options.get("lora_modules_to_save"), task_type="CAUSAL_LM")


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------


def load_data(trainer: BaseTrainer, ctx: Context) -> None:
    """The training records and the eval records (``eval_dataset``, ``eval_split_size``, or the
    mixture's ``test_split_size`` / test splits), for every trainer."""
    from luacoder_train.data.loading import load_mixture, split_eval

    options, source = ctx.options, ctx.resolved.source
    mixture = ctx.resolved.mixture
    seed = mixture.seed if mixture is not None and mixture.seed is not None else ctx.args.seed
    columns = trainer.record_columns(ctx)
    adapt = getattr(trainer, "adapt_records", None)
    common = dict(recipe=source, seed=seed, columns=columns, validate=trainer.validate_record,
                  adapt=adapt)
    train, files, skipped = load_mixture(ctx.resolved.raw["dataset"], key="dataset",
                                         provenance=ctx.provenance, **common)
    ctx.data_files, ctx.skipped = files, skipped
    if options.get("eval_dataset") is not None:
        ctx.eval_records, eval_files, eval_skipped = load_mixture(
            options["eval_dataset"], key="eval_dataset", provenance=ctx.eval_provenance, **common)
        ctx.skipped += eval_skipped
    elif mixture is not None and mixture.eval_sources:
        ctx.eval_records, eval_files, eval_skipped = load_mixture(
            mixture.eval_sources, key="dataset_mixture", provenance=ctx.eval_provenance, **common)
        ctx.skipped += eval_skipped
    elif mixture is not None and mixture.test_split_size:
        train, ctx.eval_records = split_eval(train, mixture.test_split_size, seed, source,
                                             key="dataset_mixture.test_split_size")
    elif options.get("eval_split_size"):
        train, ctx.eval_records = split_eval(train, options["eval_split_size"], seed, source)
    ctx.train_records = train


# ------------------------------------------------------------------------------------------------
# Dry run
# ------------------------------------------------------------------------------------------------


def dry_run_report(trainer: BaseTrainer, ctx: Context) -> str:
    resolved = ctx.resolved
    lines = [f"# luacoder train {trainer.name} --dry-run ({resolved.source})", "",
             "## resolved config"]
    shown = {**resolved.raw}
    if "dataset_mixture" in shown:
        shown.pop("dataset", None)
    shown.update({k: v for k, v in resolved.options.items()
                  if k not in shown and not (k == "dataset" and resolved.mixture is not None)})
    lines.append(yaml.safe_dump(shown, sort_keys=False, default_flow_style=False).rstrip())
    if resolved.applied_defaults:
        lines.append("# luacoder defaults for this machine"
                     + (" (no CUDA GPU)" if not cuda_available() else "") + ":")
        lines.append(yaml.safe_dump(resolved.applied_defaults, sort_keys=False,
                                    default_flow_style=False).rstrip())
    if resolved.deepspeed_path:
        lines.append(f"# deepspeed config file: {resolved.deepspeed_path}")
    lines.append(f"# every other {type(ctx.args).__name__} field keeps its default")
    for note in ctx.notes:
        lines.append(f"# note: {note}")
    for line in resolved.notices:
        lines.append(f"# notice: {line}")
    for line in resolved.fallbacks:
        lines.append(f"# warning: {line}")
    lines += ["", "## data", f"files: {', '.join(ctx.data_files)}"]
    if ctx.eval_records is not None:
        lines.append(f"eval records: {len(ctx.eval_records)} (training records: "
                     f"{len(ctx.train_records)})")
    if ctx.stats is not None:
        lines.append(ctx.stats.line())
    lines += ["", "## first prepared example ([mask] = label -100, no loss; LOSS = trained)",
              trainer.describe(ctx), "", "dry run: nothing trained"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------


def base_model_name(ctx: Context) -> str:
    return model_path(ctx.resolved)


def train(trainer: BaseTrainer, ctx: Context, hf_trainer) -> dict[str, Any]:
    from luacoder_train.trainers.runtime import install_console, plot_curve

    args, options = ctx.args, ctx.options
    output_dir = Path(args.output_dir)
    adapter = ctx.peft_config is not None
    hf_trainer.luacoder_meta = {
        "trainer": trainer.name,
        "config_hash": ctx.resolved.config_hash,
        "data_files": ctx.data_files,
        "base_model": base_model_name(ctx),
        "adapter": adapter,
        "luacoder_train_version": __version__,
    }
    from luacoder_train.outputs.model_card import card_info, recipe_settings

    hf_trainer.luacoder_card = card_info(
        trainer=trainer.name, base_model=base_model_name(ctx), adapter=adapter,
        output_dir=str(output_dir), provenance=ctx.provenance, eval_provenance=ctx.eval_provenance,
        eval_split=len(ctx.eval_records) if ctx.eval_records is not None and not ctx.eval_provenance
        else None, settings=recipe_settings(ctx.resolved, args),
        hub_model_id=getattr(args, "hub_model_id", None),
        notices=ctx.resolved.notices + ctx.resolved.fallbacks)
    install_console(hf_trainer, trainer.name)
    for note in ctx.notes:
        say(f"[{trainer.name}] note: {note}")

    resume = args.resume_from_checkpoint
    if resume is None and options.get("auto_resume", True):
        incomplete = [str(f) for _, f, ok in ckpt.checkpoints(output_dir) if not ok]
        if incomplete:
            warn(f"ignoring checkpoint folders without {ckpt.META} (incomplete): {', '.join(incomplete)}")
        last = ckpt.last_complete_checkpoint(output_dir)
        if last is not None:
            resume = str(last)
            say(f"[{trainer.name}] resuming from {last}")
    if is_main_process():
        ckpt.clear_staging(output_dir)
    try:
        result = hf_trainer.train(resume_from_checkpoint=resume)
    except LuacoderError:
        raise
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        traceback.print_exc()
        raise RunFailed(f"{trainer.name} training failed: {type(exc).__name__}: {exc}") from exc

    hf_trainer._lc_final = True  # the card goes with the final model (and a hub push)
    hf_trainer.save_model(str(output_dir))
    hf_trainer.save_state()  # trainer_state.json: the whole log history next to the model
    if hf_trainer.args.should_save:
        ctx.tokenizer.save_pretrained(output_dir)
        hf_trainer.create_model_card()
        ckpt.write_meta(output_dir, {**hf_trainer.luacoder_meta, "step": hf_trainer.state.global_step,
                                     "final": True})
        ckpt.clear_staging(output_dir)
        if options.get("training_curve", True):
            plot_curve(hf_trainer.state.log_history, output_dir / "training_curve.png",
                       f"luacoder train {trainer.name}")
    history = [e for e in hf_trainer.state.log_history if "loss" in e]
    summary = {
        "output_dir": str(output_dir),
        "steps": hf_trainer.state.global_step,
        "first_loss": history[0]["loss"] if history else None,
        "last_loss": history[-1]["loss"] if history else None,
        "train_loss": getattr(result, "training_loss", None),
    }
    if summary["first_loss"] is not None:
        say(f"[{trainer.name}] loss {summary['first_loss']:.4f} -> {summary['last_loss']:.4f} over "
            f"{summary['steps']} steps; model saved to {output_dir}")
    return summary


def config_error(message: str, ctx: Context, key: str | None = None) -> ConfigError:
    return ConfigError(message, file=ctx.resolved.source, key=key)
