"""``luacoder train dpo``: preference tuning with TRL's DPO on {"prompt", "chosen", "rejected"}.

Pairs whose prompt is only inside conversational ``chosen``/``rejected`` (the shared leading turns,
as in alignment-handbook's DPO recipes) get it extracted first. TRL keeps the reference model: a frozen copy of the starting model, or, with ``use_peft``, the
same model with the adapter disabled (no second copy in memory). With ``prompt_format: chat``
(the default when there is a chat template) string prompts and completions become one user and
one assistant message, rendered with the chat template like the ``chat`` trainer's data.
"""

from __future__ import annotations

from typing import Literal

from luacoder_train.trainers.base import BaseTrainer, Context


def _as_messages(value, role: str):
    return value if isinstance(value, list) else [{"role": role, "content": value}]


class DPOTrainer(BaseTrainer):
    """Direct preference optimisation (TRL DPO) on preference pairs; PEFT reference = adapter off."""

    name = "dpo"
    summary = "Preference tuning with TRL's DPO on prompt/chosen/rejected pairs (LoRA-aware reference)"
    columns = ("prompt", "chosen", "rejected")
    uses_chat_template = True
    method_keys = {"prompt_format": Literal["auto", "chat", "text"]}
    method_defaults = {"prompt_format": "auto"}

    def config_class(self) -> type:
        from trl import DPOConfig

        return DPOConfig

    def validate_record(self, record: dict) -> None:
        from luacoder_core.records import validate_preference

        validate_preference(record)

    def adapt_records(self, dataset, where: str):
        """Conversational pairs with the prompt inside ``chosen``/``rejected`` (alignment-handbook's
        ``columns: [chosen, rejected]`` of ultrafeedback_binarized): the shared leading turns
        become the prompt (TRL's ``maybe_extract_prompt``)."""
        names = dataset.column_names
        if "chosen" not in names or "rejected" not in names or len(dataset) == 0:
            return dataset
        first = dataset[0]
        if "prompt" in names and not isinstance(first["chosen"], list):
            return dataset
        if "prompt" in names and isinstance(first["prompt"], list):
            return dataset
        from trl.data_utils import maybe_extract_prompt

        return dataset.map(maybe_extract_prompt)

    def prepare(self, ctx: Context) -> None:
        from luacoder_train.data.packing import Stats, batch_efficiency

        fmt = ctx.options["prompt_format"]
        chat = fmt == "chat" or (fmt == "auto" and bool(ctx.template))

        def convert(example):
            if not chat:
                return example
            return {"prompt": _as_messages(example["prompt"], "user"),
                    "chosen": _as_messages(example["chosen"], "assistant"),
                    "rejected": _as_messages(example["rejected"], "assistant")}

        ctx.train_dataset = ctx.train_records.map(convert)
        if ctx.eval_records is not None:
            ctx.eval_dataset = ctx.eval_records.map(convert)
        ctx.chat = chat  # type: ignore[attr-defined]

        lengths, trained = [], 0
        for example in ctx.train_dataset:
            prompt, chosen, rejected = self._texts(ctx, example)
            n_prompt = len(ctx.tokenizer(prompt, add_special_tokens=False)["input_ids"])
            for completion in (chosen, rejected):
                n = len(ctx.tokenizer(completion, add_special_tokens=False)["input_ids"])
                lengths.append(n_prompt + n)
                trained += n
        ctx.stats = Stats(samples=len(ctx.train_dataset), tokens=sum(lengths), trained_tokens=trained,
                          rows=len(lengths),
                          efficiency=batch_efficiency(lengths, 2 * ctx.args.per_device_train_batch_size))

    def _texts(self, ctx: Context, example) -> tuple[str, str, str]:
        """Rendered prompt and the text each completion adds after it."""
        if not getattr(ctx, "chat", False):
            return example["prompt"], example["chosen"], example["rejected"]
        tok, template = ctx.tokenizer, ctx.template
        prompt = tok.apply_chat_template(example["prompt"], chat_template=template, tokenize=False,
                                         add_generation_prompt=True)
        out = []
        for key in ("chosen", "rejected"):
            full = tok.apply_chat_template(example["prompt"] + example[key], chat_template=template,
                                           tokenize=False)
            out.append(full[len(prompt):] if full.startswith(prompt) else full)
        return prompt, out[0], out[1]

    def describe(self, ctx: Context) -> str:
        if ctx.train_dataset is None or len(ctx.train_dataset) == 0:
            return "  (no pairs)"
        prompt, chosen, rejected = self._texts(ctx, ctx.train_dataset[0])

        def esc(text: str) -> str:
            return text.encode("unicode_escape").decode("ascii", "backslashreplace")

        def count(text: str) -> int:
            return len(ctx.tokenizer(text, add_special_tokens=False)["input_ids"])

        return "\n".join([
            f"  mask {count(prompt):>4} | [{esc(prompt)}]   (prompt)",
            f"  LOSS {count(chosen):>4} | {esc(chosen)}   (chosen)",
            f"  LOSS {count(rejected):>4} | {esc(rejected)}   (rejected)",
            "  (DPO pads each pair; packing does not apply)",
        ])

    def build(self, ctx: Context):
        from trl import DPOTrainer as TRLDPOTrainer

        from luacoder_train.trainers.runtime import with_luacoder

        cls = with_luacoder(TRLDPOTrainer)
        kwargs = {}
        if ctx.peft_config is not None:
            kwargs["peft_config"] = ctx.peft_config
        return cls(model=ctx.model, ref_model=None, args=ctx.args, train_dataset=ctx.train_dataset,
                   eval_dataset=ctx.eval_dataset, processing_class=ctx.tokenizer, **kwargs)
