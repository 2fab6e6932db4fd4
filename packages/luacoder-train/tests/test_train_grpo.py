"""``luacoder train grpo`` end to end on the tiny model: rewards as plugins, task metrics in the
logs, checkpoints and curve; config errors exit 2 naming the key."""

from __future__ import annotations

import importlib.util
import json
import types

import pytest
from click.testing import CliRunner
from luacoder_core import hookimpl
from luacoder_core.cli import build_cli as core_build_cli
from luacoder_core.components import completion_text
from luacoder_core.plugins import make_plugin_manager
from train_testutil import write_jsonl, write_recipe

STOPS = ["\nlocal", "\nfunction", "\n--", "\n\n"]


def problem(name: str, answer: int) -> dict:
    return {"name": name, "prompt": f"local function {name}()\n", "stop_tokens": STOPS,
            "tests": ("lu = require('luaunit')\n\nfunction test_humaneval()\n"
                      f"local candidate = {name}\n    lu.assertEquals(candidate(), {answer})\nend\n\n"
                      "os.exit(lu.LuaUnit.run())")}


@pytest.fixture(scope="module")
def problems(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grpo-data")
    return write_jsonl(folder / "problems.jsonl", [problem("alpha", 1), problem("bravo", 2)])


def invoke(pm, *args):
    return CliRunner().invoke(core_build_cli(pm), [str(a) for a in args], catch_exceptions=False)


def grpo_recipe(path, model, data, out, **extra):
    keys = dict(model_name_or_path=str(model), dataset=str(data), output_dir=str(out),
                rewards={"lua_tests": {"weight": 1.0, "options": {"workers": 1, "timeout": 1.0}},
                         "lua_syntax": 0.5},
                num_generations=4, per_device_train_batch_size=4, max_completion_length=8,
                max_steps=3, save_steps=2, learning_rate=1e-3, seed=0)
    keys.update(extra)
    return write_recipe(path, **keys)


@pytest.mark.integration
def test_grpo_trains_with_sandboxed_tests_and_logs_task_metrics(tmp_path, tiny_model, problems):
    pytest.importorskip("luacoder_eval", reason="lua_tests comes with luacoder-eval "
                        "(nox -s integration installs it beside luacoder-train)")
    pm = make_plugin_manager(only="train,eval")
    out = tmp_path / "out"
    result = invoke(pm, "train", "grpo", grpo_recipe(tmp_path / "grpo.yaml", tiny_model, problems, out))
    assert result.exit_code == 0, result.output
    state = json.loads((out / "trainer_state.json").read_text())
    steps = [e for e in state["log_history"] if "reward" in e]
    assert len(steps) == 3
    for entry in steps:
        for key in ("rewards/lua_tests/mean", "rewards/lua_syntax/mean", "task/pass_rate",
                    "task/syntax_valid_rate", "task/reward_seconds", "completions/mean_length"):
            assert key in entry, key
        assert 0.0 <= entry["task/pass_rate"] <= 1.0
        # the weighted sum trl reports is ours: 1 x lua_tests + 0.5 x lua_syntax
        assert entry["reward"] == pytest.approx(
            entry["rewards/lua_tests/mean"] + 0.5 * entry["rewards/lua_syntax/mean"], abs=1e-5)
    meta = json.loads((out / "checkpoint-2" / "luacoder.json").read_text())
    assert meta["trainer"] == "grpo" and meta["step"] == 2
    assert {"reward", "task/pass_rate", "task/syntax_valid_rate",
            "completions/mean_length"} <= set(meta["task_metrics"])
    final = json.loads((out / "luacoder.json").read_text())
    assert final["final"] is True and "task/pass_rate" in final["task_metrics"]
    assert (out / "training_curve.png").stat().st_size > 0
    assert (out / "model.safetensors").exists()


def test_grpo_with_a_third_party_reward_and_lora(tmp_path, tiny_model, problems):
    """A reward from a throwaway plugin, options included; LoRA adapter out."""
    seen = {}

    def shortest(prompts, completions, tests=None, scale=1.0, **columns):
        seen["columns"] = sorted(k for k in columns if k not in ("trainer_state", "log_extra",
                                                                 "log_metric", "completion_ids"))
        seen["tests"] = tests
        columns["log_metric"]("chars", sum(len(completion_text(c)) for c in completions))
        return [scale / (1 + len(completion_text(c))) for c in completions]

    module = types.ModuleType("shorter_plugin")
    module.register_rewards = hookimpl(lambda register: register("shortest", shortest))
    pm = make_plugin_manager(only="train")
    pm.register(module, name="shorter")
    out = tmp_path / "out"
    recipe = grpo_recipe(tmp_path / "grpo.yaml", tiny_model, problems, out,
                         rewards={"shortest": {"options": {"scale": 2.0}}}, max_steps=2,
                         save_strategy="no", use_peft=True, lora_r=4, lora_alpha=8)
    result = invoke(pm, "train", "grpo", recipe)
    assert result.exit_code == 0, result.output
    assert seen["columns"] == ["name", "stop_tokens"] and len(seen["tests"]) == 4
    state = json.loads((out / "trainer_state.json").read_text())
    entry = next(e for e in state["log_history"] if "reward" in e)
    assert 0 < entry["rewards/shortest/mean"] <= 2.0
    assert entry["task/chars"] > 0
    assert (out / "adapter_config.json").exists()


def test_a_reward_that_is_not_installed_names_its_package(tmp_path, tiny_model, problems):
    pm = make_plugin_manager(only="train")  # no luacoder-eval: no lua_tests
    result = invoke(pm, "train", "grpo", grpo_recipe(tmp_path / "g.yaml", tiny_model, problems,
                                                     tmp_path / "out"), "--dry-run")
    assert result.exit_code == 2
    assert "lua_tests: pip install luacoder-eval" in result.output
    assert "rewards.lua_tests" in result.output
    result = invoke(pm, "train", "grpo", grpo_recipe(tmp_path / "g.yaml", tiny_model, problems,
                                                     tmp_path / "out", rewards=["lua_syntx"]),
                    "--dry-run")
    assert result.exit_code == 2
    assert "no reward 'lua_syntx'; did you mean 'lua_syntax'?" in result.output


@pytest.mark.parametrize("rewards, key, message", [
    (None, "rewards", "grpo needs 'rewards'"),
    ({"lua_syntax": {"weigth": 1}}, "rewards.lua_syntax.weigth", "unknown key 'weigth'"),
    ({"lua_syntax": {"weight": "high"}}, "rewards.lua_syntax.weight", "weight must be a number"),
    ({"lua_syntax": {"options": {"bogus": 1}}}, "rewards.lua_syntax.options", "unknown option 'bogus'"),
    (["api_grounded"], "api_path", "reward 'api_grounded' needs 'api_path'"),
])
def test_reward_config_errors_exit_2_naming_the_key(tmp_path, tiny_model, problems, rewards, key,
                                                    message):
    pm = make_plugin_manager(only="train")
    recipe = grpo_recipe(tmp_path / "g.yaml", tiny_model, problems, tmp_path / "out", rewards=rewards)
    result = invoke(pm, "train", "grpo", recipe, "--dry-run")
    assert result.exit_code == 2, result.output
    assert message in result.output and key in result.output


def test_dry_run_of_chat_prompts_with_api_grounding(tmp_path, tiny_model):
    api = write_jsonl(tmp_path / "api.jsonl", [{"name": "tween.new"}, {"name": "Tween:update"}])
    data = write_jsonl(tmp_path / "chat.jsonl", [
        {"messages": [{"role": "system", "content": "You write Lua."},
                      {"role": "user", "content": "How do I start a tween?"},
                      {"role": "assistant", "content": "Call `tween.new`."}]},
        {"prompt": [{"role": "user", "content": "Update a tween."}]},
    ])
    pm = make_plugin_manager(only="train")
    recipe = write_recipe(tmp_path / "g.yaml", model_name_or_path=str(tiny_model), dataset=str(data),
                          output_dir=str(tmp_path / "out"), api_path=str(api),
                          rewards={"api_grounded": 1.0, "lua_syntax": 0.2}, num_generations=2,
                          per_device_train_batch_size=2)
    result = invoke(pm, "train", "grpo", recipe, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "2 chat prompts" in result.output
    assert "report type 'markdown'" in result.output
    assert "api_grounded   weight 1" in result.output and "lua_syntax     weight 0.2" in result.output
    assert "How do I start a tween?" in result.output and "Call `tween.new`" not in result.output
    assert "dry run: nothing trained" in result.output


def test_grpo_resumes_from_its_last_checkpoint(tmp_path, tiny_model, problems):
    pm = make_plugin_manager(only="train")
    out = tmp_path / "out"
    first = grpo_recipe(tmp_path / "a.yaml", tiny_model, problems, out, rewards=["lua_syntax"],
                        max_steps=2, save_steps=2)
    assert invoke(pm, "train", "grpo", first).exit_code == 0
    assert (out / "checkpoint-2" / "luacoder.json").exists()
    longer = grpo_recipe(tmp_path / "b.yaml", tiny_model, problems, out, rewards=["lua_syntax"],
                         max_steps=4, save_steps=2)
    result = invoke(pm, "train", "grpo", longer)
    assert result.exit_code == 0, result.output
    assert f"resuming from {out / 'checkpoint-2'}" in result.output
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert [e["step"] for e in state["log_history"] if "reward" in e] == [1, 2, 3, 4]


def test_luacoder_run_puts_grpo_after_dpo(tmp_path, tiny_model, problems, data_dir):
    """A pipeline: DPO on preference pairs, then GRPO from DPO's model (stages are generic)."""
    import yaml

    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump({"name": "rl", "stages": {
        "dpo": {"train": "dpo", "config": {
            "model_name_or_path": str(tiny_model), "dataset": str(data_dir / "pref.jsonl"),
            "max_length": 64, "per_device_train_batch_size": 4, "max_steps": 2,
            "save_strategy": "no", "training_curve": False}},
        "grpo": {"train": "grpo", "config": {
            "model_name_or_path": "${stages.dpo.output}", "dataset": str(problems),
            "rewards": ["lua_syntax"], "num_generations": 4, "per_device_train_batch_size": 4,
            "max_completion_length": 8, "max_steps": 2, "save_strategy": "no"}},
    }}))
    pm = make_plugin_manager(only="train")
    result = invoke(pm, "run", pipeline, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    grpo_out = next((tmp_path / "runs" / "rl" / "stages").glob("grpo-*")) / "output"
    meta = json.loads((grpo_out / "luacoder.json").read_text())
    assert meta["trainer"] == "grpo"
    assert meta["base_model"].startswith(str(tmp_path / "runs" / "rl" / "stages" / "dpo-"))
    assert "rewards/lua_syntax/mean" in meta["task_metrics"]


@pytest.mark.slow
@pytest.mark.integration
def test_eval_on_save_scores_each_checkpoint_while_training(tmp_path, tiny_model, problems):
    """eval_on_save runs the eval sweep on each new checkpoint; its scores land in the logs and
    in the checkpoint's luacoder.json."""
    pytest.importorskip("luacoder_eval", reason="eval_on_save runs luacoder-eval's sweep "
                        "(nox -s integration installs it beside luacoder-train)")
    write_jsonl(tmp_path / "api.jsonl", [{"name": "string.format"}, {"name": "table.concat"}])
    prompts = tmp_path / "prompts.csv"
    prompts.write_text('prompt\n"local function join(t)\n"\n"local function fmt(x)\n"\n')
    out = tmp_path / "out"
    recipe = grpo_recipe(tmp_path / "g.yaml", tiny_model, problems, out, rewards=["lua_syntax"],
                         max_steps=2, save_steps=1,
                         eval_on_save={"api_path": "api.jsonl", "test_data_path": "prompts.csv",
                                       "report_type": "code", "max_new_tokens": 8,
                                       "metric": "syntax_valid_rate", "min_refs": 1})
    result = invoke(make_plugin_manager(only="train"), "train", "grpo", recipe)
    assert result.exit_code == 0, result.output
    for step in (1, 2):
        meta = json.loads((out / f"checkpoint-{step}" / "luacoder.json").read_text())
        assert 0.0 <= meta["eval"]["syntax_valid_rate"] <= 1.0
    state = json.loads((out / "trainer_state.json").read_text())
    logged = [e for e in state["log_history"] if "eval/syntax_valid_rate" in e]
    assert [e["step"] for e in logged] == [1, 2]
    assert (out / "eval" / "report.md").is_file()


@pytest.mark.integration
def test_eval_on_save_config_errors(tmp_path, tiny_model, problems):
    pm = make_plugin_manager(only="train")
    recipe = grpo_recipe(tmp_path / "g.yaml", tiny_model, problems, tmp_path / "out",
                         rewards=["lua_syntax"], eval_on_save="missing.yaml")
    result = invoke(pm, "train", "grpo", recipe, "--dry-run")
    if importlib.util.find_spec("luacoder_eval") is None:  # train alone: the package is named
        assert result.exit_code == 2 and "eval_on_save: pip install luacoder-eval" in result.output
        return
    assert result.exit_code == 2 and "eval_on_save: no eval config at" in result.output
    recipe = grpo_recipe(tmp_path / "g.yaml", tiny_model, problems, tmp_path / "out",
                         rewards=["lua_syntax"], eval_on_save={"base_folder": "x"})
    result = invoke(pm, "train", "grpo", recipe, "--dry-run")
    assert result.exit_code == 2 and "leave base_folder out" in result.output
