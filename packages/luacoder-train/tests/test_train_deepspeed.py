"""DeepSpeed ZeRO-2 and ZeRO-3 on 2 CPU processes (torchrun, gloo, DS_ACCELERATOR=cpu) through
``luacoder train launch``, against the same recipe on one process without DeepSpeed.

Slow: the first DeepSpeed engine on a machine JIT-builds its shm_comm op (~25 s, cached after).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from train_testutil import SNIPPETS, losses, write_jsonl, write_recipe

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def code_data(tmp_path_factory):
    """Enough rows that 12 steps of 8 stay within one epoch (epoch ends shard differently)."""
    return write_jsonl(tmp_path_factory.mktemp("ds-data") / "code.jsonl",
                       [{"content": s} for s in SNIPPETS * 10])


@pytest.fixture(scope="module")
def single_process(tmp_path_factory, tiny_model, code_data):
    from click.testing import CliRunner
    from train_testutil import build_cli

    root = tmp_path_factory.mktemp("single")
    recipe = write_recipe(root / "r.yaml", model_name_or_path=str(tiny_model),
                          dataset=str(code_data), output_dir=str(root / "out"),
                          max_length=64, per_device_train_batch_size=8, learning_rate=5e-3,
                          max_steps=12, save_steps=6, seed=0, training_curve=False)
    result = CliRunner().invoke(build_cli(), ["train", "pretrain", str(recipe)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root / "out"


@pytest.mark.parametrize("stage, port", [("zero2", 29631), ("zero3", 29632)])
def test_zero_on_two_cpu_processes_matches_one_process(tmp_path, tiny_model, code_data, single_process,
                                                       stage, port):
    out = tmp_path / "out"
    # two ranks of 4 rows = the single process's batch of 8
    recipe = write_recipe(tmp_path / "r.yaml", model_name_or_path=str(tiny_model),
                          dataset=str(code_data), output_dir=str(out),
                          max_length=64, per_device_train_batch_size=4, learning_rate=5e-3,
                          max_steps=12, save_steps=6, seed=0, training_curve=False, deepspeed=stage)
    env = {**os.environ, "LUACODER_LOAD_PLUGINS": "train", "DS_ACCELERATOR": "cpu"}
    cmd = [sys.executable, "-m", "luacoder_core", "train", "launch", "--nproc-per-node", "2",
           "--master-port", str(port), "pretrain", str(recipe)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=500)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "-m torch.distributed.run --nproc-per-node 2" in proc.stderr

    expected, got = losses(single_process), losses(out)
    assert len(got) == len(expected) == 12
    assert got == pytest.approx(expected, abs=2e-3), (got, expected)

    from safetensors.torch import load_file

    a, b = load_file(str(single_process / "model.safetensors")), load_file(str(out / "model.safetensors"))
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-4, rtol=1e-3)
    # ZeRO checkpoints: sharded optimizer states of both ranks, plus the luacoder layout
    ckpt = out / "checkpoint-6"
    shards = sorted(p.name for p in (ckpt / "global_step6").iterdir())
    assert any("rank_1" in name or "rank_01" in name or "pp_rank_1" in name for name in shards), shards
    assert json.loads((ckpt / "luacoder.json").read_text())["step"] == 6
    assert json.loads((out / "luacoder.json").read_text())["final"] is True
