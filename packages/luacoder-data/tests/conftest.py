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


@pytest.fixture
def convert_markdown(run, tmp_path):
    """``convert_markdown(("name.md", text), ..., args=(), ok=True, folder="")`` writes the
    documents into the test's folder (or a sub-folder), runs ``data convert markdown-api`` on them and returns the click result
    and the records by name."""

    def convert(*docs: tuple[str, str], args: tuple = (), ok: bool | None = True,
                folder: str = ""):
        base = tmp_path / folder
        paths = []
        for name, text in docs:
            path = base / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        out = base / "api.jsonl"
        result = run("data", "convert", "markdown-api", *paths, "-o", out, *args, ok=ok)
        records = read_jsonl(out) if out.exists() else []
        return result, {r["name"]: r for r in records}

    return convert
