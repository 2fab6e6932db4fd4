"""``luacoder train chat``: instruction SFT on conversations ({"messages": [...]}).

The conversation is rendered with the chat template (the recipe's ``chat_template``: a built-in
name, a Jinja file or text; else the tokenizer's; else ChatML). With ``assistant_only_loss``
(the default) the loss covers the assistant turns and the end-of-turn token after each, computed
from the messages themselves (``luacoder_train.data.masking``), so templates without
``{% generation %}`` markers mask correctly. Conversations are packed like pretraining rows.
"""

from __future__ import annotations

from luacoder_train.trainers.base import BaseTrainer, Context


class ChatTrainer(BaseTrainer):
    """Instruction SFT on conversations; loss on assistant turns and their end-of-turn token."""

    name = "chat"
    summary = "Instruction SFT on conversations, loss on assistant turns (any chat template), packed"
    columns = ("messages",)
    uses_chat_template = True
    trl_defaults = {"packing": True, "packing_strategy": "bfd", "assistant_only_loss": True}

    def validate_record(self, record: dict) -> None:
        from luacoder_core.records import validate_conversation

        validate_conversation(record)

    def prepare(self, ctx: Context) -> None:
        from luacoder_core.errors import InputError

        from luacoder_train.data.masking import MaskingError, tokenize_conversation
        from luacoder_train.trainers.sft_common import finish_rows, stats_of

        tokenizer, template = ctx.tokenizer, ctx.template
        assistant_only = ctx.args.assistant_only_loss

        def tokenize(example):
            messages = [{"role": m["role"], "content": m["content"]} for m in example["messages"]]
            try:
                ids, labels, closed = tokenize_conversation(tokenizer, messages, template)
            except MaskingError as exc:
                return {"input_ids": [], "labels": [], "closed": False, "error": str(exc)}
            if not assistant_only:
                labels = list(ids)
            return {"input_ids": ids, "labels": labels, "closed": closed, "error": ""}

        def prepare_split(records, what: str):
            tokenized = records.map(tokenize, remove_columns=records.column_names)
            errors = [(i, e) for i, e in enumerate(tokenized["error"]) if e]
            if errors:
                i, first = errors[0]
                if len(errors) == len(tokenized):
                    raise InputError(f"no conversation of the {what} data could be masked; record "
                                     f"{i + 1}: {first}", file=ctx.data_files[0] if ctx.data_files else None)
                ctx.skipped.append(f"{len(errors)} {what} conversation(s) skipped, first (record "
                                   f"{i + 1}): {first}")
                tokenized = tokenized.filter(lambda e: not e, input_columns=["error"])
            if not all(tokenized["closed"]):
                ctx.notes.append("the chat template writes no end-of-turn token after some assistant "
                                 "turns: the model may not learn to stop")
            return finish_rows(ctx, tokenized.select_columns(["input_ids", "labels"]), split=what)

        ctx.train_dataset = prepare_split(ctx.train_records, "training")
        ctx.stats = stats_of(ctx, len(ctx.train_records), ctx.train_dataset)
        if ctx.eval_records is not None:
            ctx.eval_dataset = prepare_split(ctx.eval_records, "eval")

    def describe(self, ctx: Context) -> str:
        from luacoder_train.trainers.sft_common import describe_rows

        return describe_rows(ctx)

    def build(self, ctx: Context):
        from luacoder_train.trainers.sft_common import build_sft

        ctx.args.assistant_only_loss = False  # masked already, for any template
        return build_sft(ctx)
