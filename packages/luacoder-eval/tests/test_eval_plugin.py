"""The eval plugin registers through the public hooks and imports cheaply."""

from __future__ import annotations

import json
import subprocess
import sys


def test_plugin_registers_everything(invoke):
    result = invoke("plugins", "--json")
    info = next(p for p in json.loads(result.output) if p["name"] == "eval")
    assert info["distribution"] == "luacoder-eval" and info["status"] == "loaded"
    assert info["registered"]["report_types"] == ["code", "markdown"]
    assert info["registered"]["metrics"] == ["api_match", "arity", "pass_at_k", "syntax"]
    assert info["registered"]["rewards"] == ["lua_tests"]
    listing = invoke("eval", "list")
    assert "api_match" in listing.output and "markdown" in listing.output
    commands = invoke("eval", "--help").output
    for name in ("score", "exec", "run", "generate", "chat"):
        assert name in commands


def test_cli_does_not_import_heavy_libraries():
    code = ("import sys\nfrom luacoder_core.cli import build_cli\ncli = build_cli()\n"
            "cli.pm.registries\n"
            "heavy = [m for m in ('torch', 'transformers', 'peft', 'pandas', 'matplotlib', 'datasets', "
            "'trl', 'deepspeed') if m in sys.modules]\nprint(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_third_party_metric_is_scored(tween_api, tmp_path):
    """A metric registered by another plugin runs in `eval score` like the built-in ones."""
    from click.testing import CliRunner
    from luacoder_core import hookimpl
    from luacoder_core.cli import build_cli
    from luacoder_core.components import Metric
    from luacoder_core.plugins import make_plugin_manager

    class Lines(Metric):
        summary = "Mean number of lines."

        def compute(self, samples, context):
            return {"mean_lines": sum(s["output"].count("\n") + 1 for s in samples) / len(samples)}

    class Plugin:
        @hookimpl
        def register_metrics(self, register):
            register("lines", Lines())

    pm = make_plugin_manager()
    pm.register(Plugin(), name="lines-plugin")
    gens = tmp_path / "g.jsonl"
    gens.write_text(json.dumps({"output": "a\nb"}) + "\n" + json.dumps({"output": "c"}) + "\n")
    result = CliRunner().invoke(build_cli(pm), ["eval", "score", "--api", str(tween_api),
                                                "--generations", str(gens), "--report-type",
                                                "code", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["mean_lines"] == 1.5


def test_score_bad_input(invoke, tween_api, tmp_path):
    gens = tmp_path / "g.jsonl"
    gens.write_text('{"output": "x"}\n{"output": \n')
    result = invoke("eval", "score", "--api", tween_api, "--generations", gens, "--report-type", "code")
    assert result.exit_code == 2 and f"{gens}:2: invalid JSON" in result.output
    no_key = tmp_path / "k.jsonl"
    no_key.write_text('{"output": "x"}\n{"text": "y"}\n')
    result = invoke("eval", "score", "--api", tween_api, "--generations", no_key, "--report-type", "code")
    assert result.exit_code == 2 and f"{no_key}:2: key 'output': no 'output' in this record" in result.output
    csv_file = tmp_path / "g.csv"
    csv_file.write_text("prompt,answer\na,b\n")
    result = invoke("eval", "score", "--api", tween_api, "--generations", csv_file, "--report-type", "code")
    assert result.exit_code == 2 and f"{csv_file}:1: no column 'output'" in result.output
    result = invoke("eval", "score", "--api", tmp_path / "none.jsonl", "--generations", gens,
                    "--report-type", "code")
    assert result.exit_code == 2 and "none.jsonl: API file or folder not found" in result.output
    bad_api = tmp_path / "api.jsonl"
    bad_api.write_text('{"name": "a.b"}\n{"kind": "function"}\n')
    result = invoke("eval", "score", "--api", bad_api, "--generations", csv_file, "--report-type", "code")
    assert result.exit_code == 2 and f"{bad_api}:2: not an API record: missing 'name'" in result.output
    result = invoke("eval", "score", "--api", tween_api, "--generations", csv_file, "--report-type", "markdwn")
    assert result.exit_code == 2 and "unknown report type 'markdwn'; did you mean 'markdown'?" in result.output
    result = invoke("eval", "score", "--api", tween_api, "--generations", tmp_path / "nope.jsonl",
                    "--report-type", "code")
    assert result.exit_code == 2 and "nope.jsonl: generations file not found" in result.output


def test_every_config_key_is_documented(invoke):
    from pathlib import Path

    from luacoder_eval.sweep import SCHEMA

    help_text = invoke("eval", "run", "--help").output
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for key in SCHEMA:
        assert key in help_text, key
        assert f"`{key}`" in readme, key
