"""A third-party plugin as a user installs it: its own package, pip-installed, no editable mode."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_example_plugin_installs_and_works(tmp_path, repo_root):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = venv / "bin" / "pip"
    luacoder = venv / "bin" / "luacoder"
    subprocess.run([str(pip), "install", "-q", str(repo_root / "packages" / "luacoder-core"),
                    str(repo_root / "examples" / "luacoder-hello")], check=True, capture_output=True)

    plugins = json.loads(subprocess.run([str(luacoder), "plugins", "--json"], capture_output=True,
                                        text=True, check=True).stdout)
    assert plugins == [{
        "name": "hello", "distribution": "luacoder-hello", "version": "0.1.0", "status": "loaded",
        "error": None, "hooks": ["register_commands", "register_converters"],
        "registered": {"converters": ["upper-case"]},
    }]
    hello = subprocess.run([str(luacoder), "hello", "--name", "Lua"], capture_output=True, text=True)
    assert hello.returncode == 0 and hello.stdout == "Hello, Lua!\n"

    source = tmp_path / "in.jsonl"
    source.write_text('{"content": "print(1)"}\n{"text": "no content"}\n')
    out = tmp_path / "out.jsonl"
    converted = subprocess.run([str(luacoder), "data", "convert", "upper-case", str(source), "-o", str(out),
                                "--suffix", " -- ok"], capture_output=True, text=True)
    assert converted.returncode == 0, converted.stderr
    assert "read 2, written 1, rejected 1" in converted.stdout
    assert json.loads(out.read_text()) == {"content": "PRINT(1) -- ok"}
    listing = subprocess.run([str(luacoder), "data", "list"], capture_output=True, text=True).stdout
    assert "upper-case" in listing and "[hello]" in listing
    # nothing heavy came along with core
    installed = subprocess.run([str(pip), "list", "--format=json"], capture_output=True, text=True).stdout
    names = {p["name"].lower() for p in json.loads(installed)}
    assert not names & {"torch", "transformers", "datasets", "trl"}
