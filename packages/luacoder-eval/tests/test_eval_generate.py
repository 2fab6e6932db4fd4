"""``luacoder eval generate`` and ``luacoder eval chat`` on tiny models, adapters included; batched
generation equals one-by-one; the best-checkpoint rule."""

from __future__ import annotations

import json

import pytest


def test_generate_prompt(invoke, checkpoints):
    result = invoke("eval", "generate", checkpoints / "checkpoint-60", "--prompt", "local t = ",
                    "--max-new-tokens", "12")
    assert result.exit_code == 0, result.output
    assert result.output.strip()


def test_generate_prompts_file_to_records(invoke, checkpoints, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in ["local t = ", "tween.", "x"]))
    out = tmp_path / "gens.jsonl"
    result = invoke("eval", "generate", checkpoints, "--prompts", prompts, "--max-new-tokens", "8",
                    "--num-samples", "2", "--temperature", "0.8", "--stop", "\n", "-o", out)
    assert result.exit_code == 0, result.output
    assert f"read 6, written 6, rejected 0 -> {out}" in result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["prompt"] for r in records] == ["local t = "] * 2 + ["tween."] * 2 + ["x"] * 2
    assert all("\n" not in r["output"] for r in records)
    # seeded: the same command gives the same text
    again = tmp_path / "again.jsonl"
    invoke("eval", "generate", checkpoints, "--prompts", prompts, "--max-new-tokens", "8",
           "--num-samples", "2", "--temperature", "0.8", "--stop", "\n", "-o", again)
    assert again.read_text() == out.read_text()


def test_generate_with_adapter_and_chat_template(invoke, checkpoints):
    adapter = checkpoints / "checkpoint-80"
    result = invoke("eval", "generate", adapter, "--prompt", "How do I create a tween?", "--chat",
                    "--max-new-tokens", "10")
    assert result.exit_code == 0, result.output


def test_batched_generation_equals_one_by_one(checkpoints):
    from luacoder_eval.models import ModelLoader
    from luacoder_eval.textgen import GenSettings, generate

    loaded = ModelLoader().load(checkpoints)
    prompts = ["local t = ", "tween.", "local function move(o)\n", "for i = 1, 10 do\n", "x"]
    settings = GenSettings(max_new_tokens=16)
    batched = generate(loaded.model, loaded.tokenizer, prompts, settings).texts
    single = [generate(loaded.model, loaded.tokenizer, [p], settings).texts[0] for p in prompts]
    assert batched == single


def test_adapter_is_taken_off_the_shared_base(checkpoints, tiny_base):
    from luacoder_eval.models import ModelLoader
    from luacoder_eval.textgen import GenSettings, generate

    loader = ModelLoader()
    settings = GenSettings(max_new_tokens=12)
    model, tokenizer = loader.base(str(tiny_base))
    before = generate(model, tokenizer, ["local t = "], settings).texts
    adapter = loader.load(checkpoints / "checkpoint-80")
    assert adapter.adapter and adapter.base == str(tiny_base)
    with_adapter = generate(adapter.model, adapter.tokenizer, ["local t = "], settings).texts
    loader.release(adapter)
    after = generate(model, tokenizer, ["local t = "], settings).texts
    assert with_adapter != before
    assert after == before
    assert loader.base(str(tiny_base))[0] is model  # loaded once


def test_chat_streams_resets_and_exits(invoke, checkpoints):
    result = invoke("eval", "chat", checkpoints, "--max-new-tokens", "30",
                    input="How do I create a tween?\n/reset\nHow do I ease?\n/exit\nnever read\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("assistant> ") == 2
    assert "(conversation reset)" in result.output
    assert "tween" in result.output.split("assistant> ", 1)[1]


def test_chat_ends_at_end_of_input(invoke, checkpoints):
    result = invoke("eval", "chat", checkpoints / "checkpoint-80", "--max-new-tokens", "5", input="hi\n")
    assert result.exit_code == 0
    assert result.output.count("assistant> ") == 1


def test_generate_bad_input(invoke, checkpoints, tmp_path):
    result = invoke("eval", "generate", checkpoints / "checkpoint-90", "--prompt", "x")
    assert result.exit_code == 2
    assert "checkpoint-90: cannot load this model: config.json but no model weights" in result.output
    result = invoke("eval", "generate", checkpoints, "--prompt", "x", "--prompts", "p.csv")
    assert result.exit_code == 2 and "give --prompt TEXT" in result.output
    result = invoke("eval", "generate", tmp_path / "nowhere", "--prompt", "x")
    assert result.exit_code == 2 and "cannot load this model" in result.output


@pytest.mark.parametrize("values, best", [
    ([0.5, 0.7, 0.7, 0.1], "c"),      # a tie goes to the later step
    ([None, 0.2, None, 0.2], "d"),
    ([None, None, None, None], None),
    ([0.9, 0.1, float("nan"), 0.3], "a"),
])
def test_pick_best(values, best):
    from luacoder_eval.report import pick_best

    rows = [{"checkpoint": name, "m": v} for name, v in zip("abcd", values)]
    chosen = pick_best(rows, "m")
    assert (chosen["checkpoint"] if chosen else None) == best
