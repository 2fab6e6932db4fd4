"""``luacoder train chat``: the loss mask covers exactly the assistant turns plus their
end-of-turn token, under templates with and without ``{% generation %}`` markers."""

from __future__ import annotations

import json

import pytest
from luacoder_train.chat_templates import TEMPLATES
from luacoder_train.data.masking import tokenize_conversation
from train_testutil import CONVERSATIONS, conversation, losses, write_recipe

MULTI_TURN = conversation(CONVERSATIONS[0] + CONVERSATIONS[3])["messages"]


def trained_runs(tokenizer, ids, labels):
    """The decoded text of every maximal run of trained tokens."""
    runs, current = [], []
    for token, label in zip(ids, labels):
        if label != -100:
            current.append(token)
        elif current:
            runs.append(tokenizer.decode(current))
            current = []
    if current:
        runs.append(tokenizer.decode(current))
    return runs


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.mark.parametrize("name, eot", [("chatml", "<|im_end|>"), ("zephyr", "<|im_end|>"),
                                       ("llama2", " <|im_end|>")])
def test_mask_is_exactly_assistant_turns_plus_end_of_turn(tokenizer, name, eot):
    ids, labels, closed = tokenize_conversation(tokenizer, MULTI_TURN, TEMPLATES[name])
    assistant = [m["content"] for m in MULTI_TURN if m["role"] == "assistant"]
    runs = trained_runs(tokenizer, ids, labels)
    # llama2 puts a space between [/INST] and the answer: the answer's first token carries it
    assert [r.lstrip(" ") if name == "llama2" else r for r in runs] == [a + eot for a in assistant]
    assert closed
    # nothing from user or system turns is trained
    trained_text = "".join(runs)
    for message in MULTI_TURN:
        if message["role"] != "assistant":
            assert message["content"] not in trained_text


def test_mask_matches_transformers_generation_markers(tokenizer):
    """With a template that has {% generation %} markers both methods must agree token for token."""
    assert "{% generation %}" in tokenizer.chat_template
    reference = tokenizer.apply_chat_template(MULTI_TURN, return_assistant_tokens_mask=True,
                                              return_dict=True)
    ids, labels, _ = tokenize_conversation(tokenizer, MULTI_TURN, tokenizer.chat_template)
    assert ids == reference["input_ids"]
    assert [int(label != -100) for label in labels] == reference["assistant_masks"]


def test_template_without_markers_breaks_transformers_mask_but_not_ours(tokenizer):
    """The bug this masking exists for: without generation markers the HF mask is empty."""
    reference = tokenizer.apply_chat_template(MULTI_TURN, chat_template=TEMPLATES["zephyr"],
                                              return_assistant_tokens_mask=True, return_dict=True)
    assert sum(reference["assistant_masks"]) == 0
    _, labels, _ = tokenize_conversation(tokenizer, MULTI_TURN, TEMPLATES["zephyr"])
    assert sum(label != -100 for label in labels) > 20


@pytest.mark.parametrize("template", ["chatml", "zephyr"])
def test_chat_trains_with_packing_and_loss_falls(tmp_path, pretrained_model, data_dir, run_cli, template):
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path / "chat.yaml", model_name_or_path=str(pretrained_model),
                          dataset=str(data_dir / "chat.jsonl"), output_dir=str(out),
                          chat_template=template, max_length=256, per_device_train_batch_size=4,
                          learning_rate=5e-3, max_steps=25, save_steps=25, seed=0)
    run_cli("train", "chat", recipe)
    curve = losses(out)
    assert curve[-1] < curve[0] * 0.6, curve
    meta = json.loads((out / "luacoder.json").read_text())
    assert meta["trainer"] == "chat" and meta["final"] is True
    # the template used in training travels with the model
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(out).chat_template == TEMPLATES[template]


def test_chat_dry_run_marks_masked_and_trained_tokens(tmp_path, tiny_model, data_dir, run_cli):
    recipe = write_recipe(tmp_path / "chat.yaml", model_name_or_path=str(tiny_model),
                          dataset=str(data_dir / "chat.jsonl"), output_dir=str(tmp_path / "out"),
                          chat_template="zephyr", max_length=512)
    text = run_cli("train", "chat", recipe, "--dry-run").output
    mask_lines = [line for line in text.splitlines() if line.lstrip().startswith("mask")]
    loss_lines = [line for line in text.splitlines() if line.lstrip().startswith("LOSS")]
    assert any("<|user|>" in line for line in mask_lines)
    assert all("<|user|>" not in line for line in loss_lines)
    assert any(line.rstrip().endswith("<|im_end|>") for line in loss_lines)
    assert "20 samples" in text


def test_chat_rejects_broken_records_loudly(tmp_path, tiny_model, run_cli):
    from train_testutil import write_jsonl

    data = write_jsonl(tmp_path / "chat.jsonl", [
        conversation(CONVERSATIONS[0]),
        {"messages": [{"role": "user", "content": "no answer"}]},
    ])
    recipe = write_recipe(tmp_path / "chat.yaml", model_name_or_path=str(tiny_model),
                          dataset=str(data), output_dir=str(tmp_path / "out"))
    result = run_cli("train", "chat", recipe, "--dry-run")
    assert "1 unusable record(s) skipped" in result.output
    assert "record 2" in result.output and "assistant" in result.output
