"""``luacoder data inspect`` and the plugin's registration (entry point, cheap import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_inspect_conversations_text_and_json(run, jsonl, tmp_path):
    write, _ = jsonl
    path = write(tmp_path / "chat.jsonl", [
        {"messages": [{"role": "user", "content": "a" * 10}, {"role": "assistant", "content": "b" * 30}]},
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                      {"role": "assistant", "content": "r"}]},
    ])
    with path.open("a", encoding="utf-8") as fh:
        fh.write("{broken\n")
    result = run("data", "inspect", path, ok=True)
    assert "2 records, 1 malformed lines" in result.output
    assert "roles: user 2, assistant 2, system 1" in result.output
    assert "length (chars): min 3" in result.output and "max 40" in result.output
    report = json.loads(run("data", "inspect", path, "--json", "--head", "1", ok=True).output)
    assert report["records"] == 2 and report["kinds"] == {"conversation": 2}
    assert report["turns"]["max"] == 3 and len(report["first"]) == 1
    assert report["malformed_first"][0].endswith("invalid JSON: Expecting property name enclosed "
                                                 "in double quotes (column 2)")


def test_inspect_code_api_and_hf_folder(run, jsonl, tmp_path):
    write, _ = jsonl
    src = tmp_path / "src"
    src.mkdir()
    (src / "LICENSE").write_text("Apache License\nVersion 2.0, January 2004\n", encoding="utf-8")
    for i in range(3):
        (src / f"m{i}.lua").write_text(f"local x{i} = {i}\nreturn x{i} * {i + 7} + {i * 3}\n",
                                       encoding="utf-8")
    run("data", "convert", "lua-code", src, "-o", tmp_path / "code_hf", "--format", "hf",
        "--no-near-dedup", ok=True)
    report = json.loads(run("data", "inspect", tmp_path / "code_hf", "--json", ok=True).output)
    assert report["records"] == 3 and report["licenses"] == {"Apache-2.0": 3}
    assert report["lines"]["max"] == 3
    api = write(tmp_path / "api.jsonl", [{"name": "m.f", "kind": "function", "params": [{"name": "x"}],
                                          "deprecated": True}, {"name": "m.g", "kind": "field"}])
    text = run("data", "inspect", api, ok=True).output
    assert "api kinds: function 1, field 1" in text and "deprecated 1" in text
    missing = run("data", "inspect", tmp_path / "nope.jsonl")
    assert missing.exit_code == 2 and "nope.jsonl: file not found" in missing.output


def test_plugin_found_through_entry_point_and_cheap_to_import():
    env = {**os.environ, "LUACODER_LOAD_PLUGINS": "data"}
    out = subprocess.run([sys.executable, "-m", "luacoder_core", "plugins", "--json"], env=env,
                         capture_output=True, text=True, check=True).stdout
    (info,) = [p for p in json.loads(out) if p["name"] == "data"]
    assert info["distribution"] == "luacoder-data" and info["status"] == "loaded"
    assert sorted(info["registered"]["converters"]) == ["api-chat", "api-docs", "api-preference",
                                                        "dialogue", "generation-preference",
                                                        "lua-api", "lua-code", "markdown-api"]
    code = ("import sys, luacoder_data.plugin as p\n"
            "from luacoder_core.plugins import make_plugin_manager\n"
            "from luacoder_core.cli import build_cli\n"
            "pm = make_plugin_manager(load_entrypoints=False); pm.register(p, name='data')\n"
            "build_cli(pm); pm.registries.converters.names()\n"
            "heavy = [m for m in ('datasets', 'pandas', 'datasketch', 'pyarrow', 'numpy', 'torch',"
            " 'transformers') if m in sys.modules]\n"
            "print(heavy)")
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert heavy == "[]"


def test_help_lists_converters_and_options(run):
    listing = run("data", "list", ok=True).output
    for name in ("markdown-api", "lua-api", "api-docs", "dialogue", "lua-code", "api-chat",
                 "api-preference", "generation-preference"):
        assert name in listing
    help_text = run("data", "convert", "lua-code", "--help", ok=True).output
    for option in ("--fim-rate", "--fim-mode", "--decontaminate", "--emit-dir", "--keep-invalid",
                   "--near-threshold", "--format", "--skip-malformed"):
        assert option in help_text
