"""What ``pretrain`` and ``chat`` share: tokenized rows with labels -> packed (or truncated) rows,
statistics, the first example for the dry run, and the SFTTrainer built around them."""

from __future__ import annotations

from typing import Any

from luacoder_train.trainers.base import Context

IGNORE = -100


def finish_rows(ctx: Context, tokenized, *, split: str):
    """Pack or truncate tokenized rows (``input_ids`` + ``labels``); drop rows with no loss."""
    from luacoder_train.data.packing import pack, truncate

    args = ctx.args
    packing = ctx.resolved.trl_kwargs.get("packing", args.packing)
    max_length = args.max_length
    if packing and max_length is None:
        from luacoder_core.errors import ConfigError

        raise ConfigError("packing needs max_length", file=ctx.resolved.source, key="max_length")
    if packing:
        strategy = args.packing_strategy
        rows = pack(tokenized, max_length, strategy)
    else:
        rows = truncate(tokenized, max_length) if max_length else tokenized
    rows = rows.filter(lambda labels: any(t != IGNORE for t in labels), input_columns=["labels"])
    return rows


def stats_of(ctx: Context, samples: int, rows):
    from luacoder_train.data.packing import Stats, batch_efficiency

    table = rows.with_format("arrow")[:]
    import pyarrow.compute as pc

    lengths = pc.list_value_length(table.column("input_ids")).to_pylist()
    labels = pc.list_flatten(table.column("labels"))
    trained = int(pc.sum(pc.not_equal(labels, IGNORE)).as_py() or 0)
    # the first token of each packed sample is never a label
    if "seq_lengths" in table.column_names:
        trained -= sum(1 for row in table.column("seq_lengths").to_pylist() for _ in row[1:])
    return Stats(samples=samples, tokens=sum(lengths), trained_tokens=trained, rows=len(lengths),
                 efficiency=batch_efficiency(lengths, ctx.args.per_device_train_batch_size,
                                             ctx.args.pad_to_multiple_of))


def collator(ctx: Context):
    from luacoder_train.data.packing import PackedCollator, PaddedCollator

    packing = ctx.resolved.trl_kwargs.get("packing", ctx.args.packing)
    pad_id = ctx.tokenizer.pad_token_id
    multiple = ctx.args.pad_to_multiple_of
    return PackedCollator(pad_id, multiple) if packing else PaddedCollator(pad_id, multiple)


def describe_rows(ctx: Context) -> str:
    from luacoder_train.data.packing import show_example

    if ctx.train_dataset is None or len(ctx.train_dataset) == 0:
        return "  (no rows)"
    # the first row that packs several samples shows the boundaries; else the first row
    head = ctx.train_dataset.select(range(min(64, len(ctx.train_dataset))))
    index = 0
    if "seq_lengths" in head.column_names:
        index = next((i for i, s in enumerate(head["seq_lengths"]) if len(s) > 1), 0)
    return (f"  row {index + 1} of {len(ctx.train_dataset)}\n"
            + show_example(ctx.tokenizer, ctx.train_dataset[index]))


def build_sft(ctx: Context):
    """An SFTTrainer that takes the prepared rows as they are: luacoder tokenized, masked and
    packed them already, so TRL's own preparation and packing are switched off."""
    from trl import SFTTrainer

    from luacoder_train.trainers.runtime import with_luacoder

    args = ctx.args
    args.packing = False
    args.padding_free = False
    args.dataset_kwargs = {**(args.dataset_kwargs or {}), "skip_prepare_dataset": True}
    cls = with_luacoder(SFTTrainer)
    kwargs: dict[str, Any] = {}
    if ctx.peft_config is not None:
        kwargs["peft_config"] = ctx.peft_config
    return cls(model=ctx.model, args=args, train_dataset=ctx.train_dataset,
               eval_dataset=ctx.eval_dataset, processing_class=ctx.tokenizer,
               data_collator=collator(ctx), **kwargs)
