"""``luacoder train pretrain``: causal-LM (continued) pretraining on code samples.

Each record's ``content`` (``dataset_text_field``) becomes one document ending in EOS; documents
are packed into ``max_length`` rows without attending across document boundaries. With
``fim_rate`` > 0 a seeded share of documents is rewritten into fill-in-the-middle form on the fly
(PSM, or SPM for ``fim_spm_rate`` of those), using the ``<fim_prefix>``/``<fim_suffix>``/
``<fim_middle>`` tokens of the tokenizer.
"""

from __future__ import annotations

import random

from luacoder_train.trainers.base import BaseTrainer, Context

FIM_TOKENS = ("<fim_prefix>", "<fim_middle>", "<fim_suffix>")


def fim_transform(text: str, rng: random.Random, spm: bool) -> str:
    """Split ``text`` at two random points into prefix/middle/suffix and reorder it."""
    a, b = sorted(rng.randint(0, len(text)) for _ in range(2))
    prefix, middle, suffix = text[:a], text[a:b], text[b:]
    pre, mid, suf = FIM_TOKENS
    if spm:
        return f"{pre}{suf}{suffix}{mid}{prefix}{middle}"
    return f"{pre}{prefix}{suf}{suffix}{mid}{middle}"


class PretrainTrainer(BaseTrainer):
    """Causal-LM pretraining on code samples ({"content": ...}), packed without cross-contamination."""

    name = "pretrain"
    summary = "Causal-LM (continued) pretraining on code samples, packed without cross-contamination"
    method_keys = {"fim_rate": float, "fim_spm_rate": float}
    method_defaults = {"fim_rate": 0.0, "fim_spm_rate": 0.5}
    trl_defaults = {"dataset_text_field": "content", "packing": True, "packing_strategy": "bfd_split"}

    def record_columns(self, ctx: Context) -> list[str]:
        return [ctx.args.dataset_text_field]

    def validate_record(self, record: dict) -> None:
        ((key, value),) = record.items()
        if not isinstance(value, str):
            raise ValueError(f"'{key}' must be a string, got {type(value).__name__}")
        if not value.strip():
            raise ValueError(f"'{key}' is empty")

    def prepare(self, ctx: Context) -> None:
        from luacoder_core.errors import ConfigError

        from luacoder_train.trainers.sft_common import finish_rows, stats_of

        tokenizer, field = ctx.tokenizer, ctx.args.dataset_text_field
        fim_rate, spm_rate = ctx.options["fim_rate"], ctx.options["fim_spm_rate"]
        if not 0 <= fim_rate <= 1 or not 0 <= spm_rate <= 1:
            raise ConfigError("fim_rate and fim_spm_rate must be within [0, 1]",
                              file=ctx.resolved.source, key="fim_rate")
        if fim_rate > 0:
            vocab = tokenizer.get_vocab()
            missing = [t for t in FIM_TOKENS if t not in vocab]
            if missing:
                raise ConfigError(f"fim_rate > 0 needs the FIM tokens {', '.join(missing)} in the "
                                  "tokenizer", file=ctx.resolved.source, key="fim_rate")
        eos = tokenizer.eos_token_id
        seed = ctx.args.seed

        def tokenize(batch, indices):
            texts = []
            for text, index in zip(batch[field], indices):
                rng = random.Random(f"{seed}-{index}")
                if fim_rate and rng.random() < fim_rate:
                    text = fim_transform(text, rng, rng.random() < spm_rate)
                texts.append(text)
            ids = tokenizer(texts, add_special_tokens=True)["input_ids"]
            ids = [x + [eos] if not x or x[-1] != eos else x for x in ids]
            return {"input_ids": ids, "labels": [list(x) for x in ids]}

        def prepare_split(records):
            tokenized = records.map(tokenize, batched=True, with_indices=True,
                                    remove_columns=records.column_names)
            return finish_rows(ctx, tokenized, split="train")

        ctx.train_dataset = prepare_split(ctx.train_records)
        ctx.stats = stats_of(ctx, len(ctx.train_records), ctx.train_dataset)
        if ctx.eval_records is not None:
            ctx.eval_dataset = prepare_split(ctx.eval_records)

    def describe(self, ctx: Context) -> str:
        from luacoder_train.trainers.sft_common import describe_rows

        return describe_rows(ctx)

    def build(self, ctx: Context):
        from luacoder_train.trainers.sft_common import build_sft

        return build_sft(ctx)
