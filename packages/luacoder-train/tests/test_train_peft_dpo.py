"""PEFT (LoRA, DoRA) on the trainers, ``train merge``, and ``dpo`` with the adapter-disabled
base as its reference."""

from __future__ import annotations

import json

import torch
from train_testutil import losses, write_recipe


def test_lora_chat_saves_adapter_only_checkpoints_and_merges(tmp_path, pretrained_model, data_dir, run_cli):
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path / "lora.yaml", model_name_or_path=str(pretrained_model),
                          dataset=str(data_dir / "chat.jsonl"), output_dir=str(out),
                          use_peft=True, lora_r=8, lora_alpha=16, lora_dropout=0.0,
                          max_length=256, per_device_train_batch_size=4, learning_rate=2e-2,
                          max_steps=20, save_steps=10, seed=0)
    run_cli("train", "chat", recipe)
    curve = losses(out)
    assert curve[-1] < curve[0] - 0.3, curve
    for folder in (out / "checkpoint-10", out / "checkpoint-20", out):
        assert (folder / "adapter_model.safetensors").is_file()
        assert not (folder / "model.safetensors").exists()
        adapter_config = json.loads((folder / "adapter_config.json").read_text())
        assert adapter_config["base_model_name_or_path"] == str(pretrained_model.resolve())
        assert json.loads((folder / "luacoder.json").read_text())["adapter"] is True
        assert (folder / "tokenizer.json").is_file()

    merged = tmp_path / "merged"
    result = run_cli("train", "merge", str(out), "-o", str(merged))
    assert "merge:" in result.output
    assert (merged / "model.safetensors").is_file() and (merged / "tokenizer.json").is_file()
    assert json.loads((merged / "luacoder.json").read_text())["adapter"] is False

    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(merged)
    ids = tok("local function add(a, b)", return_tensors="pt")["input_ids"]
    base = AutoModelForCausalLM.from_pretrained(pretrained_model)
    with torch.no_grad():
        base_logits = base(ids).logits
        adapted = PeftModel.from_pretrained(base, str(out))(ids).logits
        merged_logits = AutoModelForCausalLM.from_pretrained(merged)(ids).logits
    torch.testing.assert_close(merged_logits, adapted, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(base_logits, adapted, atol=1e-3)  # the adapter learned something


def test_merge_refuses_a_folder_without_adapter(tmp_path, tiny_model, run_cli):
    result = run_cli("train", "merge", str(tiny_model), "-o", str(tmp_path / "m"), expect=2)
    assert "no adapter_config.json" in result.output


def test_dora_pretrain_adapter(tmp_path, pretrained_model, data_dir, run_cli):
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path / "dora.yaml", model_name_or_path=str(pretrained_model),
                          dataset=str(data_dir / "code.jsonl"), output_dir=str(out),
                          use_peft=True, use_dora=True, lora_r=4, lora_target_modules=["q_proj", "v_proj"],
                          max_length=128, per_device_train_batch_size=8, learning_rate=1e-2,
                          max_steps=8, save_strategy="no", seed=0)
    run_cli("train", "pretrain", recipe)
    adapter_config = json.loads((out / "adapter_config.json").read_text())
    assert adapter_config["use_dora"] is True
    assert sorted(adapter_config["target_modules"]) == ["q_proj", "v_proj"]


def test_dpo_with_lora_reference_is_the_base(tmp_path, pretrained_model, data_dir, run_cli):
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path / "dpo.yaml", model_name_or_path=str(pretrained_model),
                          dataset=str(data_dir / "pref.jsonl"), output_dir=str(out),
                          use_peft=True, lora_r=8, lora_alpha=16, lora_dropout=0.0, beta=0.1,
                          max_length=256, per_device_train_batch_size=4, learning_rate=2e-2,
                          max_steps=20, save_steps=10, seed=0)
    result = run_cli("train", "dpo", recipe)
    assert "accuracies" in result.output
    state = json.loads((out / "trainer_state.json").read_text())
    logs = [e for e in state["log_history"] if "loss" in e]
    # at step 1 the policy IS the reference (adapter starts at zero): loss = log 2
    assert abs(logs[0]["loss"] - 0.6931) < 1e-3
    assert logs[-1]["loss"] < 0.5, [e["loss"] for e in logs]
    assert logs[-1]["rewards/accuracies"] >= 0.75
    assert (out / "adapter_config.json").is_file()
    assert json.loads((out / "checkpoint-10" / "luacoder.json").read_text())["trainer"] == "dpo"


def test_dpo_full_model_dry_run_shows_pair(tmp_path, tiny_model, data_dir, run_cli):
    recipe = write_recipe(tmp_path / "dpo.yaml", model_name_or_path=str(tiny_model),
                          dataset=str(data_dir / "pref.jsonl"), output_dir=str(tmp_path / "out"))
    text = run_cli("train", "dpo", recipe, "--dry-run").output
    assert "(prompt)" in text and "(chosen)" in text and "(rejected)" in text
    assert "<|im_start|>assistant" in text  # string prompts rendered with the chat template
    assert "DPOConfig" in text
