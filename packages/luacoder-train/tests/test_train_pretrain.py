"""``luacoder train pretrain``: the loss falls, the checkpoint layout eval relies on, dry run."""

from __future__ import annotations

import json
from pathlib import Path

from train_testutil import losses, write_recipe


def test_pretrain_loss_falls_and_writes_the_checkpoint_layout(tmp_path, tiny_model, data_dir, run_cli):
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path / "pretrain.yaml", model_name_or_path=str(tiny_model),
                          dataset=str(data_dir / "code.jsonl"), output_dir=str(out),
                          max_length=128, per_device_train_batch_size=8, learning_rate=1e-2,
                          max_steps=30, save_steps=10, seed=0)
    result = run_cli("train", "pretrain", recipe)
    assert "tok/s" in result.output and "loss" in result.output

    curve = losses(out)
    assert len(curve) == 30
    assert curve[-1] < curve[0] - 1.0, curve

    # checkpoints every save_steps, each complete with tokenizer and luacoder.json
    names = sorted(p.name for p in out.glob("checkpoint-*"))
    assert names == ["checkpoint-10", "checkpoint-20", "checkpoint-30"]
    for step in (10, 20, 30):
        folder = out / f"checkpoint-{step}"
        assert (folder / "model.safetensors").is_file()
        assert (folder / "tokenizer.json").is_file()
        meta = json.loads((folder / "luacoder.json").read_text())
        assert meta["trainer"] == "pretrain"
        assert meta["step"] == step
        assert meta["adapter"] is False
        assert meta["base_model"] == str(Path(tiny_model).resolve())
        assert meta["data_files"] == [str((data_dir / "code.jsonl").resolve())]
        assert len(meta["config_hash"]) == 16
        assert meta["luacoder_train_version"] == "0.1.0"
    final = json.loads((out / "luacoder.json").read_text())
    assert final["final"] is True and final["step"] == 30
    assert (out / "model.safetensors").is_file() and (out / "tokenizer_config.json").is_file()
    assert (out / "training_curve.png").stat().st_size > 1000
    assert not (out / ".staging").exists()

    # the final model loads and generates
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    ids = tok("local function", return_tensors="pt")
    assert model.generate(**ids, max_new_tokens=4, do_sample=False).shape[1] > ids["input_ids"].shape[1]


def test_pretrain_dry_run_shows_config_packed_example_and_efficiency(tmp_path, tiny_model, data_dir, run_cli):
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path / "pretrain.yaml", model_name_or_path=str(tiny_model),
                          dataset=str(data_dir / "code.jsonl"), output_dir=str(out),
                          max_length=128, per_device_train_batch_size=4, learning_rate=1e-3)
    result = run_cli("train", "pretrain", recipe, "--dry-run", "--set", "learning_rate=5e-4")
    text = result.output
    assert "## resolved config" in text
    assert "learning_rate: 0.0005" in text  # --set applied
    assert "packing: true" in text and "use_cpu: true" in text and "bf16: false" in text
    assert "gradient_checkpointing: false" in text
    # the first packed row: several samples, each restarting its positions; masks visible
    assert "sample 1 of" in text and "sample 2 of" in text
    assert "mask    1 | [" in text and "LOSS" in text
    assert "<|im_end|>" in text  # EOS between documents
    assert "60 samples" in text and "tokens" in text
    assert "of the batch slots hold real tokens" in text
    efficiency = float(text.split("% of the batch slots")[0].rsplit(" ", 1)[-1])
    assert efficiency > 90
    assert "dry run: nothing trained" in text
    assert not out.exists()


def test_pretrain_fim_on_the_fly(tmp_path, tiny_model, data_dir, run_cli):
    recipe = write_recipe(tmp_path / "pretrain.yaml", model_name_or_path=str(tiny_model),
                          dataset=str(data_dir / "code.jsonl"), output_dir=str(tmp_path / "out"),
                          max_length=512, fim_rate=1.0, fim_spm_rate=0.0, packing=False)
    text = run_cli("train", "pretrain", recipe, "--dry-run").output
    assert "<fim_prefix>" in text and "<fim_suffix>" in text and "<fim_middle>" in text
    assert text.index("<fim_prefix>") < text.index("<fim_suffix>") < text.index("<fim_middle>")
