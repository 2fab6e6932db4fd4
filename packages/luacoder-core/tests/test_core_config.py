from __future__ import annotations

from typing import Literal

import pytest
from click.testing import CliRunner
from luacoder_core.cli import build_cli
from luacoder_core.config import check_config, load_config, parse_override, schema_from_dataclass
from luacoder_core.errors import ConfigError

SCHEMA = {
    "model_name_or_path": str,
    "learning_rate": float,
    "max_steps": int,
    "use_peft": bool,
    "dataset": str | list,
    "report_type": Literal["code", "markdown"],
    "lora": {"r": int, "alpha": int},
}


def write(tmp_path, text):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_load_with_overrides_and_types(tmp_path):
    path = write(tmp_path, "model_name_or_path: tiny\nlearning_rate: 2.0e-4\nlora:\n  r: 8\n")
    config = load_config(path, ["max_steps=30", "lora.alpha=16", "learning_rate=1e-4",
                                "use_peft=true", "dataset=[a.jsonl, b.jsonl]"], SCHEMA)
    assert config == {"model_name_or_path": "tiny", "learning_rate": 1e-4, "max_steps": 30,
                      "use_peft": True, "dataset": ["a.jsonl", "b.jsonl"],
                      "lora": {"r": 8, "alpha": 16}}


def test_unknown_key_names_file_key_and_closest(tmp_path):
    path = write(tmp_path, "model_name_or_path: tiny\nlearning_rat: 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, schema=SCHEMA)
    assert str(err.value) == f"{path}: unknown key 'learning_rat'; did you mean 'learning_rate'?"
    assert err.value.exit_code == 2


def test_nested_unknown_key_and_wrong_type(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'lora\.rank'"):
        load_config(write(tmp_path, "lora:\n  rank: 8\n"), schema=SCHEMA)
    with pytest.raises(ConfigError, match=r"key 'max_steps' must be int, got 'ten' \(str\)"):
        load_config(write(tmp_path, "max_steps: ten\n"), schema=SCHEMA)
    with pytest.raises(ConfigError, match=r"key 'use_peft' must be bool"):
        load_config(write(tmp_path, "use_peft: 1\n"), schema=SCHEMA)
    with pytest.raises(ConfigError, match=r"key 'report_type' must be 'code' \| 'markdown'"):
        load_config(write(tmp_path, "report_type: html\n"), schema=SCHEMA)


def test_yaml_errors_name_the_line(tmp_path):
    path = write(tmp_path, "a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}:")
    assert err.value.line is not None and err.value.line >= 2
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_override_parsing():
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("lr=1e-4") == (["lr"], 1e-4)
    assert parse_override("name=tiny") == (["name"], "tiny")
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("novalue")


def test_schema_from_dataclass():
    import dataclasses

    @dataclasses.dataclass
    class Args:
        learning_rate: float = 1e-3
        output_dir: str | None = None

    schema = schema_from_dataclass(Args)
    check_config({"learning_rate": 1, "output_dir": None}, schema, source="x.yaml")
    with pytest.raises(ConfigError, match="did you mean 'output_dir'"):
        check_config({"outputdir": "x"}, schema, source="x.yaml")


def test_config_error_exit_code_through_cli(tmp_path):
    from luacoder_core.components import Trainer
    from luacoder_core.plugins import make_plugin_manager

    class Strict(Trainer):
        def run(self, config, *, source=None, dry_run=False):
            check_config(config, SCHEMA, source=source)

    class Plugin:
        from luacoder_core import hookimpl

        @hookimpl
        def register_trainers(self, register):
            register("strict", Strict())

    pm = make_plugin_manager(load_entrypoints=False)
    pm.register(Plugin(), name="strict")
    path = write(tmp_path, "max_step: 3\n")
    result = CliRunner().invoke(build_cli(pm), ["train", "strict", str(path)])
    assert result.exit_code == 2
    assert f"{path}: unknown key 'max_step'; did you mean 'max_steps'?" in result.output
    result = CliRunner().invoke(build_cli(pm), ["train", "strict", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "config file not found" in result.output
