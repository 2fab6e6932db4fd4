"""Fixtures of the luacoder-data tests: a CLI around a plugin manager holding only this
package's plugin (so a broken sibling package cannot break these tests), and file helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner


@pytest.fixture(scope="session")
def data_cli():
    import luacoder_data.plugin
    from luacoder_core.cli import build_cli
    from luacoder_core.plugins import make_plugin_manager

    pm = make_plugin_manager(load_entrypoints=False)
    pm.register(luacoder_data.plugin, name="data")
    return build_cli(pm)


@pytest.fixture
def run(data_cli):
    """``run("data", "convert", ...)`` -> click Result (stdout and stderr in ``.output``)."""

    def invoke(*args: str, ok: bool | None = None):
        result = CliRunner().invoke(data_cli, [str(a) for a in args], catch_exceptions=False)
        if ok is True:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip()]


@pytest.fixture
def jsonl():
    return write_jsonl, read_jsonl
