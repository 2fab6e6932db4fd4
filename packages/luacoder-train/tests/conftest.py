"""Fixtures for luacoder-train: a tiny offline model built with our own ``init-model`` on Lua
snippets written here, and small code / chat / preference datasets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_testutil import (  # noqa: E402
    CONVERSATIONS,
    PREFERENCES,
    SNIPPETS,
    build_cli,
    conversation,
    write_jsonl,
    write_recipe,
)

os.environ.setdefault("DS_ACCELERATOR", "cpu")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for i, snippet in enumerate(SNIPPETS):
        (folder / f"snippet_{i:02d}.lua").write_text(snippet, encoding="utf-8")
    (folder / "notes.md").write_text("# Lua notes\n\nUse `local` for every variable.\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    write_jsonl(folder / "code.jsonl", [{"content": s, "source": f"snippet_{i}.lua"}
                                        for i, s in enumerate(SNIPPETS * 3)])
    write_jsonl(folder / "chat.jsonl", [conversation(c) for c in CONVERSATIONS * 4])
    write_jsonl(folder / "pref.jsonl", [{"prompt": p, "chosen": c, "rejected": r}
                                        for p, c, r in PREFERENCES * 4])
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, corpus_dir, data_dir) -> Path:
    """A random tiny Llama with a byte-level BPE trained on our snippets (init-model's code)."""
    from luacoder_train.commands.init_model import init_model

    out = tmp_path_factory.mktemp("models") / "tiny"
    init_model(str(out), [str(corpus_dir), str(data_dir / "chat.jsonl")], preset="tiny", seed=0)
    return out


@pytest.fixture(scope="session")
def cli():
    return build_cli()


@pytest.fixture()
def run_cli(cli):
    from click.testing import CliRunner

    def run(*args: str, expect: int | None = 0):
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, result.output
        return result

    return run


@pytest.fixture(scope="session")
def pretrained_model(tmp_path_factory, tiny_model, data_dir) -> Path:
    """The tiny model after a short pretraining run, so adapters on it can move the loss."""
    from click.testing import CliRunner

    root = tmp_path_factory.mktemp("pretrained")
    recipe = write_recipe(root / "pretrain.yaml", model_name_or_path=str(tiny_model),
                          dataset=str(data_dir / "code.jsonl"), output_dir=str(root / "out"),
                          max_length=128, per_device_train_batch_size=8, learning_rate=1e-2,
                          max_steps=60, save_strategy="no", training_curve=False, seed=0)
    result = CliRunner().invoke(build_cli(), ["train", "pretrain", str(recipe)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root / "out"
