"""Sequence packing without cross-contamination, and the collators that feed it to the model.

Samples are packed into rows of ``max_length`` tokens with trl's best-fit-decreasing packer
(``trl.pack_dataset``, strategies ``bfd``, ``bfd_split``, ``wrapped``), which records each row's
sample lengths. :class:`PackedCollator` keeps the rows as a ``[batch, row]`` tensor and gives each
sample its own position ids starting at 0, with no attention mask: transformers then builds a
block-diagonal causal mask from the position ids, so no token attends across a sample boundary,
and the first token of a sample is never a label predicted from the sample before it. Unlike
trl's padding-free collator it does not flatten the batch into one long row, so attention costs
``batch * row**2`` rather than ``(batch * row)**2`` - the difference between fast and slow on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IGNORE = -100


def pack(dataset, max_length: int, strategy: str = "bfd"):
    """Rows of at most ``max_length`` tokens with a ``seq_lengths`` column."""
    from trl import pack_dataset

    columns = [c for c in ("input_ids", "labels") if c in dataset.column_names]
    return pack_dataset(dataset.select_columns(columns), max_length, strategy)


def truncate(dataset, max_length: int):
    def cut(batch):
        return {k: [v[:max_length] for v in batch[k]] for k in ("input_ids", "labels")}

    return dataset.map(cut, batched=True)


def _padded_rows(examples: list[dict[str, Any]], pad_token_id: int,
                 pad_to_multiple_of: int | None) -> tuple[list[int], int, Any, Any]:
    """Row lengths, padded width, and right-padded ``input_ids`` / ``labels`` tensors."""
    import torch

    lengths = [len(e["input_ids"]) for e in examples]
    width = max(lengths)
    if pad_to_multiple_of:
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
    input_ids = torch.full((len(examples), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for b, example in enumerate(examples):
        n = lengths[b]
        input_ids[b, :n] = torch.tensor(example["input_ids"])
        labels[b, :n] = torch.tensor(example.get("labels") or example["input_ids"])
    return lengths, width, input_ids, labels


@dataclass
class PackedCollator:
    """Pad rows to the longest in the batch; position ids restart at every packed sample."""

    pad_token_id: int
    pad_to_multiple_of: int | None = None

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        lengths, width, input_ids, labels = _padded_rows(examples, self.pad_token_id,
                                                         self.pad_to_multiple_of)
        position_ids = torch.zeros((len(examples), width), dtype=torch.long)
        for b, example in enumerate(examples):
            n = lengths[b]
            pieces = [torch.arange(s) for s in (example.get("seq_lengths") or [n])]
            if n < width:  # the padding is a sample of its own, so real tokens never see it
                pieces.append(torch.arange(width - n))
            position_ids[b] = torch.cat(pieces)
        labels[position_ids == 0] = IGNORE
        return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids,
                "num_real_tokens": torch.tensor(sum(lengths))}


@dataclass
class PaddedCollator:
    """One sample per row, right padding and an attention mask (``packing: false``)."""

    pad_token_id: int
    pad_to_multiple_of: int | None = None

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        lengths, width, input_ids, labels = _padded_rows(examples, self.pad_token_id,
                                                         self.pad_to_multiple_of)
        attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
        for b, n in enumerate(lengths):
            attention_mask[b, :n] = 1
        return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask,
                "num_real_tokens": torch.tensor(sum(lengths))}


@dataclass
class Stats:
    samples: int
    tokens: int
    trained_tokens: int
    rows: int
    efficiency: float  # real tokens / token slots the batches hold
    truncated: int = 0

    def line(self) -> str:
        return (f"{self.samples} samples, {self.tokens:,} tokens ({self.trained_tokens:,} with loss) "
                f"in {self.rows} rows; {self.efficiency:.1%} of the batch slots hold real tokens")


def batch_efficiency(lengths: list[int], batch_size: int, pad_to_multiple_of: int | None = None) -> float:
    """Share of non-padding tokens when rows are batched in order and padded to the longest."""
    slots = 0
    for i in range(0, len(lengths), batch_size):
        chunk = lengths[i:i + batch_size]
        width = max(chunk)
        if pad_to_multiple_of:
            width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
        slots += width * len(chunk)
    return sum(lengths) / slots if slots else 0.0


def dataset_stats(samples: int, rows, batch_size: int, pad_to_multiple_of: int | None = None) -> Stats:
    lengths = [len(x) for x in rows["input_ids"]]
    trained = sum(sum(1 for t in labels if t != IGNORE) for labels in rows["labels"])
    return Stats(samples=samples, tokens=sum(lengths), trained_tokens=trained, rows=len(lengths),
                 efficiency=batch_efficiency(lengths, batch_size, pad_to_multiple_of))


def show_example(tokenizer, example: dict[str, Any], *, limit: int = 4000) -> str:
    """The first prepared row as text: each sample on its own, every run of tokens marked
    ``LOSS`` (trained) or ``mask`` (label -100, no loss)."""
    ids = list(example["input_ids"])
    labels = list(example.get("labels") or ids)
    seq_lengths = list(example.get("seq_lengths") or [len(ids)])
    lines = []
    offset = 0
    shown = 0
    for n_sample, length in enumerate(seq_lengths, start=1):
        lines.append(f"  -- sample {n_sample} of {len(seq_lengths)} in this row: {length} tokens "
                     f"(positions restart at 0)")
        runs: list[tuple[bool, list[int]]] = []
        for k in range(offset, offset + length):
            # the first token of a packed sample is never a label (nothing before it in its sample)
            trained = labels[k] != IGNORE and k != offset
            if not runs or runs[-1][0] != trained:
                runs.append((trained, []))
            runs[-1][1].append(ids[k])
        for trained, tokens in runs:
            text = tokenizer.decode(tokens, skip_special_tokens=False)
            mark = "LOSS" if trained else "mask"
            body = text.encode("unicode_escape").decode("ascii", "backslashreplace")
            if not trained:
                body = f"[{body}]"
            lines.append(f"  {mark} {len(tokens):>4} | {body}")
            shown += len(body)
            if shown > limit:
                lines.append("  ... (cut)")
                return "\n".join(lines)
        offset += length
    return "\n".join(lines)
