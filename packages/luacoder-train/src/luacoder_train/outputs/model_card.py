"""The model card every final model and checkpoint carries (``README.md``, Hugging Face format).

Built with ``huggingface_hub``'s :class:`ModelCard` / :class:`ModelCardData`: YAML front matter
(``base_model``, ``datasets``, ``library_name``, ``tags``, ``license`` when the base model's card
has one, ``pipeline_tag``) and a body with the base model, every dataset source with its record
counts and where it came from, the recipe's key settings, the trainer and the
luacoder/transformers/TRL versions. ``luacoder eval run`` later adds its scores
(:func:`luacoder_core.model_card.set_eval_results`) between the eval markers, which start empty.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import Any

from luacoder_core.model_card import CARD, EVAL_END, EVAL_START, read_card, write_card

#: luacoder trainer -> (TRL trainer, one-line description)
TRAINERS = {
    "pretrain": ("SFTTrainer", "causal-LM (continued) pretraining on code samples, packed"),
    "chat": ("SFTTrainer", "instruction SFT on conversations, loss on the assistant turns"),
    "dpo": ("DPOTrainer", "preference tuning with Direct Preference Optimization"),
    "grpo": ("GRPOTrainer", "reinforcement learning with verifiable rewards (GRPO)"),
}

#: recipe settings shown in the card when set (TRL config fields and luacoder keys)
SETTINGS = ("learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
            "gradient_accumulation_steps", "max_length", "lr_scheduler_type", "warmup_steps",
            "optim", "weight_decay", "packing", "assistant_only_loss", "beta", "loss_type",
            "num_generations", "max_completion_length", "use_peft", "lora_r", "lora_alpha",
            "lora_dropout", "lora_target_modules", "use_dora", "load_in_4bit", "dtype",
            "attn_implementation", "bf16", "fp16", "deepspeed", "seed", "chat_template")

_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def hub_id(name: str | None) -> str | None:
    """``name`` when it looks like a hub repo id and is not a local path."""
    if not name or Path(name).exists() or not _HUB_ID.match(name):
        return None
    return name


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def base_card_license(base: str) -> str | None:
    path = Path(base) / CARD
    if path.is_file():
        lic = read_card(path)[0].get("license")
        return lic if isinstance(lic, str) else None
    return None


def rejects_of(path: str) -> int | None:
    """Records the data stage rejected for a local output (lines of ``<file>.rejects.jsonl``)."""
    rejects = Path(f"{path}.rejects.jsonl")
    if not rejects.is_file():
        return None
    with rejects.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def card_info(*, trainer: str, base_model: str, adapter: bool, output_dir: str,
              provenance: list[dict], eval_provenance: list[dict], eval_split: int | None,
              settings: dict[str, Any], hub_model_id: str | None, notices: list[str]) -> dict:
    """What the card says, gathered once when training starts."""
    return {"trainer": trainer, "base_model": base_model, "adapter": adapter,
            "output_dir": output_dir, "provenance": provenance, "eval_provenance": eval_provenance,
            "eval_split": eval_split, "settings": settings, "hub_model_id": hub_model_id,
            "notices": notices}


def _source_rows(entries: list[dict]) -> list[str]:
    rows = []
    for e in entries:
        where = f"local file `{e['path']}`" if e.get("local") else f"hub dataset `{e['path']}`"
        extra = []
        if e.get("skipped"):
            extra.append(f"{e['skipped']} unusable record(s) skipped at training time")
        rejected = e.get("rejected")
        if rejected is None and e.get("local"):
            rejected = rejects_of(e["path"])
        if rejected is not None:
            extra.append(f"{rejected} record(s) rejected by the data stage (its `.rejects.jsonl`)")
        weight = e.get("fraction") if e.get("fraction") is not None else e.get("weight", 1.0)
        rows.append(f"| {e['source']} | {e.get('split', 'train')} | {e['read']} | {e['rows']} | "
                    f"{weight:g} | {where}" + (f"; {'; '.join(extra)}" if extra else "") + " |")
    return rows


def build_card(info: dict, *, step: int | None, final: bool, loss: float | None = None):
    from huggingface_hub import ModelCard, ModelCardData

    trainer = info["trainer"]
    trl_trainer, what = TRAINERS.get(trainer, (f"{trainer} trainer", f"the {trainer} trainer"))
    base = info["base_model"]
    hub_datasets = list(dict.fromkeys(e["path"] for e in info["provenance"] + info["eval_provenance"]
                                      if not e.get("local") and hub_id(e["path"])))
    tags = ["luacoder", "lua", "code", "trl", trainer]
    if info["adapter"]:
        tags += ["lora", "peft"]
    data = ModelCardData(
        base_model=hub_id(base), datasets=hub_datasets or None,
        library_name="peft" if info["adapter"] else "transformers", tags=tags,
        license=base_card_license(base), pipeline_tag="text-generation",
        model_name=info.get("hub_model_id") or Path(info["output_dir"]).name)
    name = info.get("hub_model_id") or Path(info["output_dir"]).name
    kind = "final model" if final else f"checkpoint at step {step}"
    lines = [f"# {name}", "",
             f"This {'LoRA adapter' if info['adapter'] else 'model'} is the {kind} of a luacoder "
             f"`{trainer}` run ({what}; TRL's {trl_trainer}) on top of the base model "
             f"`{base}`" + (f" (step {step})" if final and step is not None else "") + ".", ""]
    if loss is not None:
        lines += [f"Last logged training loss: {loss:.4f}.", ""]
    lines += ["## Training data", "", "| source | split | records read | records used | weight | "
              "where it came from |", "|---|---|---|---|---|---|"]
    lines += _source_rows(info["provenance"])
    total = sum(e["rows"] for e in info["provenance"])
    lines += ["", f"{total} training record(s) in all."]
    if info["eval_provenance"]:
        lines += ["", "Eval set:", "", "| source | split | records read | records used | weight | "
                  "where it came from |", "|---|---|---|---|---|---|"]
        lines += _source_rows(info["eval_provenance"])
    elif info.get("eval_split"):
        lines += [f"{info['eval_split']} of them were held out as the eval set "
                  "(test_split_size / eval_split_size)."]
    lines += ["", "## Training settings", "", "| setting | value |", "|---|---|"]
    for key, value in info["settings"].items():
        text = str(value).replace("|", "\\|").replace("\n", " ")
        if len(text) > 80:
            text = text[:77] + "..."
        lines.append(f"| `{key}` | {text} |")
    if info["notices"]:
        lines += ["", "Recipe keys luacoder rewrote for the installed libraries:", ""]
        lines += [f"- {n}" for n in info["notices"]]
    lines += ["", "## Framework versions", "", "| package | version |", "|---|---|"]
    for dist in ("luacoder-train", "luacoder-core", "transformers", "trl", "peft", "datasets",
                 "torch"):
        lines.append(f"| {dist} | {version(dist)} |")
    lines += ["", EVAL_START, "## Evaluation results", "",
              "Not scored yet: `luacoder eval run` writes its scores here.", EVAL_END, ""]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines))


def save_card(folder: str | Path, info: dict, *, step: int | None, final: bool,
              loss: float | None = None) -> Path:
    """Write ``folder/README.md`` atomically."""
    folder = Path(folder)
    card = build_card(info, step=step, final=final, loss=loss)
    meta, body = read_card_text(str(card))
    write_card(folder / CARD, meta, body)
    return folder / CARD


def read_card_text(text: str) -> tuple[dict, str]:
    import yaml
    from luacoder_core.model_card import _FRONT

    match = _FRONT.match(text)
    if not match:
        return {}, text
    return (yaml.safe_load(match.group(1)) or {}), text[match.end():]


def recipe_settings(resolved: Any, args: Any) -> dict[str, Any]:
    """The recipe's key settings, as they were used (the TRL config's values)."""
    out: dict[str, Any] = {}
    raw, options = resolved.raw, resolved.options
    for key in SETTINGS:
        if key in options and (key in raw or key in ("use_peft",)):
            value = options[key]
        elif key in resolved.trl_kwargs:
            value = resolved.trl_kwargs[key]  # as set (trainers may switch TRL's own off later)
        elif key in ("learning_rate", "per_device_train_batch_size", "seed"):
            value = getattr(args, key, None)
        else:
            continue
        value = getattr(value, "value", value)  # enums (lr_scheduler_type)
        if key in ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "use_dora") and \
                not options.get("use_peft"):
            continue
        if value is None:
            continue
        if key == "chat_template" and isinstance(value, str) and len(value) > 40:
            value = "(custom Jinja template)"
        out[key] = value
    return out
