"""Test set-up shared by every package's tests (found by pytest as the rootdir conftest).

Everything runs offline: the Hugging Face hub is never contacted and caches live in a temp dir.
Slow tests (multi-process, DeepSpeed, virtualenvs) run only with ``--run-slow``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_CACHE = tempfile.mkdtemp(prefix="luacoder-test-hf-")
for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HOME": _CACHE,
    "DS_ACCELERATOR": "cpu",
    "TOKENIZERS_PARALLELISM": "false",
    "WANDB_DISABLED": "true",
    "WANDB_MODE": "disabled",
}.items():
    os.environ.setdefault(_key, _value)

REPO_ROOT = Path(__file__).resolve().parent


def shared_dir() -> Path:
    return Path(os.environ.get("LUACODER_SHARED", REPO_ROOT.parent / "shared"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (CI does)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow") or os.environ.get("LUACODER_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real docs, Lua corpus, eval problems); skips when absent."""
    path = shared_dir() / "data"
    if not path.is_dir():
        pytest.skip(f"real-world fixtures not found at {path} (a clone without ../shared)")
    return path
