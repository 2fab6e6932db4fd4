"""``luacoder train init-model OUT --corpus FILE... --preset tiny|small``.

Trains a byte-level BPE tokenizer on the corpus, builds a small random Llama model with a ChatML
chat template and saves both with ``save_pretrained``: what tests, benchmarks and the offline demo
use, since a machine without network cannot download a model. Llama, not Qwen2: transformers
swaps a Qwen2 tokenizer's pre-tokenizer on reload.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from luacoder_core.errors import InputError

from luacoder_train.chat_templates import CHATML

SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>",
                  "<fim_prefix>", "<fim_middle>", "<fim_suffix>"]
TEXT_SUFFIXES = {".lua", ".md", ".markdown", ".txt", ".rockspec"}
RECORD_SUFFIXES = {".jsonl", ".json", ".ndjson", ".csv", ".parquet"}


@dataclass(frozen=True)
class Preset:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    max_position_embeddings: int


PRESETS = {
    # ~0.14M parameters: the test model
    "tiny": Preset(2048, 64, 128, 2, 4, 2, 1024),
    # ~1M parameters: the quickstart (learns a small API's idioms in a few CPU minutes)
    "demo": Preset(2048, 128, 352, 4, 4, 2, 512),
    # ~4M parameters: benchmarks and the demo
    "small": Preset(4096, 256, 704, 4, 4, 2, 1024),
}


def _texts_of_record(record: object) -> Iterator[str]:
    if not isinstance(record, dict):
        return
    for key in ("content", "text", "prompt", "chosen", "rejected", "completion", "output"):
        value = record.get(key)
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from _texts_of_messages(value)
    messages = record.get("messages")
    if isinstance(messages, list):
        yield from _texts_of_messages(messages)


def _texts_of_messages(messages: list) -> Iterator[str]:
    for message in messages:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            yield message["content"]


def corpus_files(paths: Iterable[str]) -> list[Path]:
    """The files named, with folders expanded to the text and record files they hold."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file()
                           and p.suffix.lower() in TEXT_SUFFIXES | RECORD_SUFFIXES)
            if not found:
                raise InputError("folder holds no .lua, .md, .txt or record files", file=str(path))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError("corpus file not found", file=str(path))
    return files


def iter_corpus(files: Iterable[Path]) -> Iterator[str]:
    """Texts of each file: whole text files, and the text fields of record files
    (``content``, ``messages``, ``prompt``/``chosen``/``rejected``)."""
    from luacoder_core.records import iter_records

    for path in files:
        if path.suffix.lower() in RECORD_SUFFIXES:
            for sourced in iter_records(path):
                yield from _texts_of_record(sourced.record)
        else:
            try:
                yield path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                yield path.read_bytes().decode("utf-8", errors="replace")


def build_tokenizer(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE (never an unknown token) wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|pad|>",
        bos_token=None, unk_token=None,
        additional_special_tokens=["<|endoftext|>", "<|im_start|>",
                                   "<fim_prefix>", "<fim_middle>", "<fim_suffix>"],
    )
    wrapped.chat_template = CHATML
    wrapped.model_max_length = 1_000_000
    return wrapped


def build_model(tokenizer, preset: Preset, seed: int):
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=preset.hidden_size,
        intermediate_size=preset.intermediate_size,
        num_hidden_layers=preset.num_hidden_layers,
        num_attention_heads=preset.num_attention_heads,
        num_key_value_heads=preset.num_key_value_heads,
        max_position_embeddings=preset.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    return model


def init_model(output: str, corpus: list[str], preset: str = "tiny", seed: int = 0,
               vocab_size: int | None = None) -> dict:
    """Build and save the tokenizer and model; reload both to prove the folder works."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    transformers.utils.logging.disable_progress_bar()
    if preset not in PRESETS:
        raise InputError(f"unknown preset '{preset}' (known: {', '.join(PRESETS)})")
    spec = PRESETS[preset]
    files = corpus_files(corpus)
    texts = [t for t in iter_corpus(files) if t.strip()]
    if not texts:
        raise InputError("the corpus holds no text", file=str(files[0]) if files else None)
    tokenizer = build_tokenizer(texts, vocab_size or spec.vocab_size)
    model = build_model(tokenizer, spec, seed)

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    (out / "luacoder.json").write_text(json.dumps({
        "kind": "init-model", "preset": preset, "seed": seed,
        "corpus": [str(f) for f in files], "parameters": model.num_parameters(),
    }, indent=2) + "\n", encoding="utf-8")

    # reload check: the folder must load offline as the same tokenizer and the same model
    reloaded_tok = AutoTokenizer.from_pretrained(out)
    reloaded = AutoModelForCausalLM.from_pretrained(out)
    sample = texts[0][:200]
    ids = tokenizer(sample, add_special_tokens=False)["input_ids"]
    if reloaded_tok(sample, add_special_tokens=False)["input_ids"] != ids:
        raise RuntimeError("the reloaded tokenizer splits text differently from the trained one")
    if reloaded_tok.decode(ids) != sample:
        raise RuntimeError("byte-level round trip failed")
    with torch.no_grad():
        x = torch.tensor([ids[:32] or [0]])
        if not torch.allclose(model(x).logits, reloaded(x).logits, atol=1e-5):
            raise RuntimeError("the reloaded model computes different logits")
    return {"output": str(out), "preset": preset, "vocab_size": len(tokenizer),
            "parameters": model.num_parameters(), "files": len(files), "texts": len(texts)}


def command():
    import click

    @click.command("init-model")
    @click.argument("output", metavar="OUTPUT_DIR")
    @click.option("--corpus", multiple=True, required=True, metavar="FILE",
                  help="Text to train the tokenizer on (repeatable): .lua/.md/.txt files, "
                       "JSONL/Parquet records (content, messages, prompt/chosen/rejected), or folders.")
    @click.option("--preset", type=click.Choice(sorted(PRESETS)), default="tiny", show_default=True,
                  help="Model size: tiny (~0.14M parameters), demo (~1M), small (~4M).")
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed of the weights.")
    @click.option("--vocab-size", type=int, default=None,
                  help="Tokenizer vocabulary size (default: the preset's; BPE stops early on small corpora).")
    def init_model_cmd(output: str, corpus: tuple[str, ...], preset: str, seed: int,
                       vocab_size: int | None) -> None:
        """Build an offline random Llama-style model and byte-level BPE tokenizer.

        The tokenizer is trained on the corpus and carries a ChatML chat template (eos
        <|im_end|>, pad <|pad|>, FIM sentinels); both are saved with save_pretrained.
        """
        info = init_model(output, list(corpus), preset=preset, seed=seed, vocab_size=vocab_size)
        click.echo(f"init-model: {info['preset']} model with {info['parameters']:,} parameters, "
                   f"vocabulary {info['vocab_size']:,} (from {info['texts']} texts in "
                   f"{info['files']} files) -> {info['output']}")

    return init_model_cmd
