"""``luacoder train merge ADAPTER_DIR -o OUT``: fold a LoRA/DoRA adapter into its base model.

The base is ``--base`` or the adapter's ``adapter_config.json`` ``base_model_name_or_path``; the
merged model is saved with ``save_pretrained`` together with the adapter's tokenizer (which
carries the chat template used in training), ready to serve without peft.
"""

from __future__ import annotations

import json
from pathlib import Path

from luacoder_core.errors import InputError


def merge(adapter_dir: str, output: str, base: str | None = None, dtype: str | None = None) -> dict:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from luacoder_train import __version__
    from luacoder_train.outputs.checkpoints import read_meta, write_meta

    adapter = Path(adapter_dir)
    config_path = adapter / "adapter_config.json"
    if not config_path.is_file():
        raise InputError("not an adapter folder (no adapter_config.json); a full model needs no "
                         "merge", file=str(adapter))
    try:
        adapter_config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", file=str(config_path), line=exc.lineno) from exc
    base_name = base or adapter_config.get("base_model_name_or_path")
    if not base_name:
        raise InputError("adapter_config.json names no base model; pass --base", file=str(config_path))
    kwargs = {"dtype": getattr(torch, dtype)} if dtype else {}
    try:
        model = AutoModelForCausalLM.from_pretrained(base_name, **kwargs)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load the base model '{base_name}': {exc}",
                         file=str(config_path), key="base_model_name_or_path") from exc
    tokenizer_dir = adapter if (adapter / "tokenizer_config.json").exists() else Path(base_name)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    tokenizer.save_pretrained(out)
    meta = read_meta(adapter) or {}
    write_meta(out, {**meta, "adapter": False, "merged_from": str(adapter.resolve()),
                     "base_model": base_name, "final": True,
                     "luacoder_train_version": __version__})
    return {"output": str(out), "base": base_name,
            "parameters": sum(p.numel() for p in merged.parameters())}


def command():
    import click

    @click.command("merge")
    @click.argument("adapter_dir", type=click.Path(file_okay=False), metavar="ADAPTER_DIR")
    @click.option("-o", "--output", required=True, help="Folder for the merged model.")
    @click.option("--base", default=None,
                  help="Base model (default: base_model_name_or_path of adapter_config.json).")
    @click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]), default=None,
                  help="Load the base in this dtype (default: as saved).")
    def merge_cmd(adapter_dir: str, output: str, base: str | None, dtype: str | None) -> None:
        """Merge a LoRA/DoRA adapter into its base model for serving."""
        info = merge(adapter_dir, output, base=base, dtype=dtype)
        click.echo(f"merge: {adapter_dir} + {info['base']} -> {info['output']} "
                   f"({info['parameters']:,} parameters)")

    return merge_cmd
