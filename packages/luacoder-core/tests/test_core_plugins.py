"""The plugin system as a plugin author and a user meet it: hooks, registries, failures."""

from __future__ import annotations

import json
import types

import click
import pytest
from click.testing import CliRunner
from luacoder_core import hookimpl
from luacoder_core.cli import build_cli
from luacoder_core.components import Converter, Metric, ReportType, Trainer
from luacoder_core.errors import PluginError
from luacoder_core.plugins import make_plugin_manager
from luacoder_core.records import RecordWriter, iter_records


def fresh_pm(**plugins):
    pm = make_plugin_manager(load_entrypoints=False)
    for name, plugin in plugins.items():
        pm.register(plugin, name=name)
    return pm


def plugin_module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        function.__name__ = hook_name
        setattr(module, hook_name, hookimpl(function))
    return module


class Copy(Converter):
    summary = "Copy code samples, optionally tagging them."
    output_kind = "code"

    def params(self):
        return [click.Option(["--tag"], default=None)]

    def run(self, inputs, output, tag=None):
        with RecordWriter(output, kind="code") as writer:
            for path in inputs:
                for item in iter_records(path):
                    writer.count_read()
                    record = dict(item.record)
                    if tag:
                        record["tag"] = tag
                    writer.write(record, item)
        return writer.summary


def test_hook_register_commands():
    def register_commands(cli):
        @cli.command("greet")
        def greet():
            click.echo("hi from plugin")

        @cli.commands["train"].command("extra")
        def extra():
            click.echo("extra train command")

    pm = fresh_pm(greeter=plugin_module("greeter", register_commands=register_commands))
    cli = build_cli(pm)
    assert CliRunner().invoke(cli, ["greet"]).output == "hi from plugin\n"
    assert CliRunner().invoke(cli, ["train", "extra"]).output == "extra train command\n"


def test_hook_register_converters(tmp_path):
    def register_converters(register):
        register("copy", Copy())

    pm = fresh_pm(copier=plugin_module("copier", register_converters=register_converters))
    cli = build_cli(pm)
    source = tmp_path / "in.jsonl"
    source.write_text('{"content": "print(1)"}\n{"content": ""}\n{"content": "x = 2"}\n')
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["data", "convert", "copy", str(source), "-o", str(out),
                                      "--tag", "t1"])
    assert result.exit_code == 0, result.output
    assert "read 3, written 2, rejected 1" in result.output
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["content"] for r in written] == ["print(1)", "x = 2"]
    assert all(r["tag"] == "t1" for r in written)
    rejects = [json.loads(line) for line in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    assert rejects[0]["reason"] == "'content' is empty"
    assert rejects[0]["source"] == {"file": str(source), "line": 2}
    listing = CliRunner().invoke(cli, ["data", "list"]).output
    assert "copy" in listing and "Copy code samples" in listing and "[copier]" in listing
    helptext = CliRunner().invoke(cli, ["data", "convert", "copy", "--help"]).output
    assert "--tag" in helptext and "--output" in helptext


def test_hook_register_trainers(tmp_path):
    calls = []

    class Echo(Trainer):
        summary = "Record the config it was given."

        def run(self, config, *, source=None, dry_run=False):
            calls.append((config, source, dry_run))

    def register_trainers(register):
        register("echo", Echo())

    pm = fresh_pm(t=plugin_module("t", register_trainers=register_trainers))
    cfg = tmp_path / "recipe.yaml"
    cfg.write_text("learning_rate: 0.001\nmodel:\n  name: tiny\n")
    result = CliRunner().invoke(build_cli(pm), ["train", "echo", str(cfg), "--set", "model.name=big",
                                                "--set", "max_steps=3", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert calls == [({"learning_rate": 0.001, "model": {"name": "big"}, "max_steps": 3}, str(cfg), True)]
    assert "echo" in CliRunner().invoke(build_cli(pm), ["train", "list"]).output


def test_hook_register_report_types():
    class Plain(ReportType):
        summary = "Everything is code."

        def extract_code(self, text):
            return [text]

    def register_report_types(register):
        register("plain", Plain())

    pm = fresh_pm(r=plugin_module("r", register_report_types=register_report_types))
    assert pm.registries.report_types.get("plain").extract_code("x") == ["x"]
    assert "plain" in CliRunner().invoke(build_cli(pm), ["eval", "list"]).output


def test_hook_register_metrics():
    class Count(Metric):
        summary = "Number of samples."

        def compute(self, samples, context):
            return {"count": len(samples)}

    def register_metrics(register):
        register("count", Count())

    pm = fresh_pm(m=plugin_module("m", register_metrics=register_metrics))
    assert pm.registries.metrics.get("count").compute([{}, {}], {}) == {"count": 2}
    assert pm.registries.metrics.entry("count").plugin == "m"


def test_hook_addhooks():
    spec_module = types.ModuleType("extra_specs")
    from luacoder_core import hookspec

    def on_custom(value):
        """A package-only hook."""

    spec_module.on_custom = hookspec(on_custom)

    def addhooks(pluginmanager):
        pluginmanager.add_hookspecs(spec_module)

    seen = []

    def on_custom_impl(value):
        seen.append(value)

    on_custom_impl.__name__ = "on_custom"
    pm = fresh_pm(a=plugin_module("a", addhooks=addhooks))
    pm.register(plugin_module("b", on_custom=on_custom_impl), name="b")
    pm.hook.on_custom(value=42)
    assert seen == [42]


def test_duplicate_names_name_both_plugins():
    def one(register):
        register("same", Copy())

    pm = fresh_pm(first=plugin_module("first", register_converters=one),
                  second=plugin_module("second", register_converters=one))
    with pytest.raises(PluginError, match="converter 'same' is registered twice: by plugin '(first|second)' and by plugin '(first|second)'"):
        _ = pm.registries


def test_misspelled_hook_is_an_error_naming_the_plugin():
    def register_convertres(register):
        pass

    pm = fresh_pm(typo=plugin_module("typo", register_convertres=register_convertres))
    with pytest.raises(PluginError, match="plugin 'typo' implements unknown hook 'register_convertres' "
                                         r"\(did you mean 'register_converters'\?\)"):
        build_cli(pm)


def test_plugin_that_fails_to_import_is_reported_and_cli_works_on(fake_site, make_fake_dist, run_luacoder):
    make_fake_dist(fake_site, "luacoder-broken", "0.3.0", {"broken": "broken_plugin"},
                   {"broken_plugin": "raise RuntimeError('boom at import')\n"})
    make_fake_dist(fake_site, "luacoder-fine", "1.2.0", {"fine": "fine_plugin"}, {"fine_plugin": """
        import click
        from luacoder_core import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command()
            def fine():
                click.echo("fine works")
    """})
    result = run_luacoder(["fine"], site=fake_site)
    assert result.returncode == 0
    assert result.stdout == "fine works\n"
    assert result.stderr.count("warning") == 1
    assert "plugin 'broken' (luacoder-broken) failed to load: RuntimeError: boom at import" in result.stderr

    listing = run_luacoder(["plugins", "--json"], site=fake_site)
    infos = {i["name"]: i for i in json.loads(listing.stdout)}
    assert infos["broken"]["status"] == "failed"
    assert "boom at import" in infos["broken"]["error"]
    assert infos["fine"]["status"] == "loaded"
    assert infos["fine"]["distribution"] == "luacoder-fine"
    assert infos["fine"]["version"] == "1.2.0"
    assert infos["fine"]["hooks"] == ["register_commands"]
    text = run_luacoder(["plugins"], site=fake_site).stdout
    assert "broken  luacoder-broken 0.3.0  FAILED: RuntimeError: boom at import" in text

    strict = run_luacoder(["--help"], site=fake_site, env={"LUACODER_STRICT_PLUGINS": "1"})
    assert strict.returncode == 2
    assert "plugin 'broken' (luacoder-broken) failed to load" in strict.stderr


def test_load_plugins_env_selects_plugins(fake_site, make_fake_dist, run_luacoder):
    make_fake_dist(fake_site, "luacoder-broken", "0.3.0", {"broken": "broken_plugin"},
                   {"broken_plugin": "raise ImportError('missing dep')\n"})
    make_fake_dist(fake_site, "luacoder-fine", "1.2.0", {"fine": "fine_plugin"},
                   {"fine_plugin": "from luacoder_core import hookimpl\n"
                                   "@hookimpl\ndef register_metrics(register):\n    pass\n"})
    none = run_luacoder(["plugins", "--json"], site=fake_site, env={"LUACODER_LOAD_PLUGINS": ""})
    assert json.loads(none.stdout) == [] and none.stderr == ""
    only = run_luacoder(["plugins", "--json"], site=fake_site, env={"LUACODER_LOAD_PLUGINS": "fine"})
    assert [i["name"] for i in json.loads(only.stdout)] == ["fine"]
    assert only.stderr == ""
    by_dist = run_luacoder(["plugins", "--json"], site=fake_site,
                           env={"LUACODER_LOAD_PLUGINS": "luacoder-fine, luacoder-broken"})
    assert sorted(i["name"] for i in json.loads(by_dist.stdout)) == ["broken", "fine"]


def test_duplicate_across_installed_plugins_exits_2(fake_site, make_fake_dist, run_luacoder):
    source = ("from luacoder_core import hookimpl\n"
              "from luacoder_core.components import Metric\n"
              "@hookimpl\ndef register_metrics(register):\n    register('dup', Metric())\n")
    make_fake_dist(fake_site, "luacoder-a", "0.1", {"a": "plug_a"}, {"plug_a": source})
    make_fake_dist(fake_site, "luacoder-b", "0.1", {"b": "plug_b"}, {"plug_b": source})
    result = run_luacoder(["eval", "list"], site=fake_site)
    assert result.returncode == 2
    assert "metric 'dup' is registered twice: by plugin 'a' and by plugin 'b'" in result.stderr


def test_unknown_component_names_what_to_install():
    cli = build_cli(fresh_pm())
    result = CliRunner().invoke(cli, ["train", "chat", "x.yaml"])
    assert result.exit_code == 2
    assert "no trainer 'chat'" in result.output and "pip install luacoder-train" in result.output
    result = CliRunner().invoke(cli, ["data", "convert", "markdown-api", "x.md", "-o", "y"])
    assert result.exit_code == 2 and "pip install luacoder-data" in result.output


def test_plugin_whose_hook_raises_is_failed_not_fatal(capsys, monkeypatch):
    def bad_commands(cli):
        raise ModuleNotFoundError("No module named 'luacoder_x.commands'")

    def bad_converters(register):
        register("half", Copy())
        raise RuntimeError("broken registry")

    def good_converters(register):
        register("copy", Copy())

    pm = fresh_pm(bad=plugin_module("bad", register_commands=bad_commands,
                                    register_converters=bad_converters),
                  good=plugin_module("good", register_converters=good_converters))
    cli = build_cli(pm)
    assert pm.registries.converters.names() == ["copy"]  # nothing half-registered
    assert CliRunner().invoke(cli, ["data", "list"]).exit_code == 0
    err = capsys.readouterr().err
    assert "plugin 'bad' failed: register_commands raised ModuleNotFoundError" in err
    assert "plugin 'bad' failed: register_converters raised RuntimeError: broken registry" in err
    infos = {i.name: i for i in pm.plugin_infos()}
    assert infos["bad"].status == "failed" and infos["good"].status == "loaded"

    monkeypatch.setenv("LUACODER_STRICT_PLUGINS", "1")
    strict = fresh_pm(bad=plugin_module("bad", register_commands=bad_commands))
    with pytest.raises(PluginError, match="plugin 'bad' failed: register_commands raised"):
        build_cli(strict)


def test_hook_register_rewards():
    from luacoder_core.components import Reward, completion_text

    class Shorter(Reward):
        summary = "Shorter completions score higher."

        def bind(self, options, context):
            limit = options.pop("limit", 10)
            super().bind(options, context)  # anything left is an unknown option
            return lambda prompts, completions, **columns: [
                max(0.0, 1 - len(completion_text(c)) / limit) for c in completions]

    def register_rewards(register):
        register("shorter", Shorter())

    pm = fresh_pm(w=plugin_module("w", register_rewards=register_rewards))
    reward = pm.registries.rewards.get("shorter")
    fn = reward.bind({"limit": 4}, {})
    assert fn(["p", "p"], ["ab", [{"role": "assistant", "content": "abcd"}]]) == [0.5, 0.0]
    with pytest.raises(ValueError, match="takes no options.*colour"):
        reward.bind({"colour": 1}, {})
    listing = json.loads(CliRunner().invoke(build_cli(pm), ["plugins", "--json"]).output)
    assert listing[0]["registered"] == {"rewards": ["shorter"]}
    rows = json.loads(CliRunner().invoke(build_cli(pm), ["train", "list", "--json"]).output)
    assert {"kind": "reward", "name": "shorter", "plugin": "w",
            "summary": "Shorter completions score higher."} in rows
