"""Kill a run with SIGKILL mid-way; the next run resumes from the last complete checkpoint and
ends with the same weights as a run that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from train_testutil import write_recipe

STEPS = 60


def recipe_for(tmp_path, tiny_model, data_dir, out):
    return write_recipe(tmp_path / f"{out.name}.yaml", model_name_or_path=str(tiny_model),
                        dataset=str(data_dir / "code.jsonl"), output_dir=str(out), max_length=128,
                        per_device_train_batch_size=4, learning_rate=5e-3, max_steps=STEPS,
                        save_steps=10, seed=0, training_curve=False)


def weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path, tiny_model, data_dir, run_cli):
    killed_out = tmp_path / "killed"
    recipe = recipe_for(tmp_path, tiny_model, data_dir, killed_out)
    env = {**os.environ, "LUACODER_LOAD_PLUGINS": "train"}
    proc = subprocess.Popen([sys.executable, "-m", "luacoder_train.run", "pretrain", str(recipe)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    try:
        while not (killed_out / "checkpoint-20" / "luacoder.json").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"run ended or stalled before checkpoint-20:\n{proc.stdout.read().decode()}")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (killed_out / "luacoder.json").exists(), "the run finished before the kill"
    done = sorted(int(p.name.split("-")[1]) for p in killed_out.glob("checkpoint-*"))
    assert done and max(done) < STEPS
    # every checkpoint folder that exists is complete
    for step in done:
        assert json.loads((killed_out / f"checkpoint-{step}" / "luacoder.json").read_text())["step"] == step
    # what a kill during a save could leave behind must not be mistaken for a checkpoint
    (killed_out / f"checkpoint-{STEPS - 5}").mkdir()
    (killed_out / f"checkpoint-{STEPS - 5}" / "config.json").write_text("{}")
    (killed_out / ".staging" / "checkpoint-999").mkdir(parents=True, exist_ok=True)

    resumed = run_cli("train", "pretrain", recipe).output
    assert f"resuming from {killed_out / f'checkpoint-{max(done)}'}" in resumed
    assert f"checkpoint-{STEPS - 5}" in resumed and "incomplete" in resumed
    assert not (killed_out / ".staging").exists()

    clean_out = tmp_path / "clean"
    run_cli("train", "pretrain", recipe_for(tmp_path, tiny_model, data_dir, clean_out))

    final_killed, final_clean = weights(killed_out), weights(clean_out)
    assert final_killed.keys() == final_clean.keys()
    start = weights(tiny_model)
    moved = max((final_clean[k] - start[k]).abs().max().item() for k in final_clean)
    assert moved > 1e-2  # training changed the weights, so equality below means something
    for key in final_clean:
        torch.testing.assert_close(final_killed[key], final_clean[key], atol=1e-5, rtol=1e-4)
    assert json.loads((killed_out / "luacoder.json").read_text())["step"] == STEPS
