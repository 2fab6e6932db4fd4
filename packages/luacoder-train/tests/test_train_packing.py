"""Packing without cross-contamination: a packed row computes, for every sample in it, the same
logits as that sample alone; and the collator never asks a sample to predict the next one."""

from __future__ import annotations

import pytest
import torch
from luacoder_train.data.packing import PackedCollator, PaddedCollator, batch_efficiency, pack
from train_testutil import SNIPPETS


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    # random weights of std 0.02 barely depend on context: make attention matter
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(5.0 if p.dim() > 1 else 1.0)
    return model, AutoTokenizer.from_pretrained(tiny_model)


def encode(tokenizer, texts):
    return [tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for t in texts]


def test_packed_logits_equal_each_sample_alone(model_and_tokenizer):
    from datasets import Dataset

    model, tokenizer = model_and_tokenizer
    samples = encode(tokenizer, SNIPPETS[:6])
    rows = pack(Dataset.from_dict({"input_ids": samples, "labels": samples}), 96, "bfd")
    assert any(len(s) > 1 for s in rows["seq_lengths"]), "the test needs rows with several samples"
    batch = PackedCollator(tokenizer.pad_token_id)([rows[i] for i in range(len(rows))])
    assert "attention_mask" not in batch
    batch.pop("num_real_tokens")
    with torch.no_grad():
        # as in training: no KV cache (the trainers pass use_cache=False with packed rows)
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                       use_cache=False).logits
        checked = 0
        for r in range(len(rows)):
            offset = 0
            for length in rows[r]["seq_lengths"]:
                ids = batch["input_ids"][r, offset:offset + length]
                alone = model(input_ids=ids[None]).logits[0]
                torch.testing.assert_close(packed[r, offset:offset + length], alone,
                                           atol=1e-4, rtol=1e-4)
                offset += length
                checked += 1
    assert checked == len(samples)


def test_naive_concatenation_would_leak_across_samples(model_and_tokenizer):
    """The same comparison fails without per-sample positions: the check above can fail."""
    model, tokenizer = model_and_tokenizer
    first, second = encode(tokenizer, SNIPPETS[:2])
    with torch.no_grad():
        joined = model(input_ids=torch.tensor([first + second])).logits[0, len(first):]
        alone = model(input_ids=torch.tensor([second])).logits[0]
    assert not torch.allclose(joined, alone, atol=1e-3)


def test_collator_labels_never_cross_a_sample_boundary():
    rows = [{"input_ids": [5, 6, 7, 8, 9], "labels": [5, 6, 7, 8, 9], "seq_lengths": [3, 2]},
            {"input_ids": [1, 2], "labels": [-100, 2], "seq_lengths": [2]}]
    batch = PackedCollator(pad_token_id=0)(rows)
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1], [0, 1, 0, 1, 2]]
    # the first token of each sample is never a target, padding is never a target
    assert batch["labels"].tolist() == [[-100, 6, 7, -100, 9], [-100, 2, -100, -100, -100]]
    assert int(batch["num_real_tokens"]) == 7


def test_padded_collator_and_efficiency():
    rows = [{"input_ids": [1, 2, 3], "labels": [1, 2, 3]}, {"input_ids": [4], "labels": [4]}]
    batch = PaddedCollator(pad_token_id=0)(rows)
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[1, 2, 3], [4, -100, -100]]
    assert batch_efficiency([3, 1], 2) == pytest.approx(4 / 6)
    assert batch_efficiency([4, 4, 2], 2) == pytest.approx(10 / 10)
