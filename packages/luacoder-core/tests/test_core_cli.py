from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner
from luacoder_core import __version__
from luacoder_core.cli import build_cli
from luacoder_core.plugins import make_plugin_manager

HEAVY = ["torch", "transformers", "datasets", "trl", "peft", "deepspeed", "accelerate", "pandas"]

PROBE = """
import sys
from luacoder_core.cli import main
sys.argv = ["luacoder"] + sys.argv[1:]
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


def probe(*args):
    return subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
                          capture_output=True, text=True, timeout=120)


def test_help_imports_nothing_heavy_with_every_installed_plugin():
    for args in (["--help"], ["data", "--help"], ["train", "--help"], ["eval", "--help"],
                 ["plugins"], ["data", "list"], ["train", "list"], ["eval", "list"]):
        result = probe(*args)
        assert "HEAVY=\n" in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_version_and_groups():
    cli = build_cli(make_plugin_manager(load_entrypoints=False))
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).output == f"luacoder, version {__version__}\n"
    for group in ("data", "train", "eval"):
        result = runner.invoke(cli, [group, "--help"])
        assert result.exit_code == 0 and "list" in result.output
    assert runner.invoke(cli, ["data", "list"]).output == "no converters installed (pip install luacoder-data)\n"
    assert runner.invoke(cli, ["train", "list"]).output == "no trainers installed (pip install luacoder-train)\n"
    assert json.loads(runner.invoke(cli, ["eval", "list", "--json"]).output) == []
    assert runner.invoke(cli, ["plugins"]).output == "no plugins loaded\n"


def test_console_script_exit_codes():
    ok = subprocess.run([sys.executable, "-m", "luacoder_core", "--version"], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("luacoder, version")
    bad = subprocess.run([sys.executable, "-m", "luacoder_core", "no-such-command"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "No such command 'no-such-command'" in bad.stderr
