"""The lua_syntax and api_grounded rewards score hand-written completions exactly."""

from __future__ import annotations

import json

import pytest
from luacoder_core.plugins import make_plugin_manager

API = [{"name": "tween.new"}, {"name": "tween.easing.linear"}, {"name": "Tween:update"},
       {"name": "spawn"}]


@pytest.fixture(scope="module")
def rewards():
    registry = make_plugin_manager(only="train").registries.rewards
    assert registry.entry("lua_syntax").plugin == "train"
    return registry


def call(fn, completions, prompts=None, **columns):
    logged = {}
    scores = fn(prompts or [""] * len(completions), completions,
                log_metric=lambda k, v: logged.__setitem__(k, v), **columns)
    return scores, logged


def test_lua_syntax_code_completions(rewards):
    fn = rewards.get("lua_syntax").bind({}, {"report_type": "code"})
    header = "local function add(a, b)\n"
    completions = [
        "local x = 1\nreturn x\n",          # compiles alone
        "  return a + b\nend\n",             # compiles after its function header
        "  return a +\nend\n",               # does not compile
        "",                                  # nothing
        "   \n\t\n",                         # whitespace
        "-- just a comment\n",               # no code
        "  return a + b\nend\n\nlocal broken = (",  # the tail after a stop token is cut
    ]
    scores, logged = call(fn, completions, prompts=[header] * len(completions),
                          stop_tokens=[["\n\n"]] * len(completions))
    assert scores == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    assert logged == {"syntax_valid_rate": pytest.approx(3 / 7)}


def test_lua_syntax_markdown_answers(rewards):
    fn = rewards.get("lua_syntax").bind({"invalid": -1.0}, {"report_type": "markdown"})
    answers = [
        "Call it like this:\n\n```lua\nlocal t = tween.new(1, obj, {x = 1})\n```\n",
        "```lua\nlocal t = = 1\n```",
        "Use `tween.new` for that.",                         # no code block: no Lua
        [{"role": "assistant", "content": "```\nprint('untagged blocks count')\n```"}],
        "```python\nprint('not lua')\n```",
    ]
    scores, _ = call(fn, answers)
    assert scores == [1.0, -1.0, -1.0, 1.0, -1.0]


def test_api_grounded_share_and_penalty(rewards, tmp_path):
    api = tmp_path / "api.jsonl"
    api.write_text("".join(json.dumps(r) + "\n" for r in API))
    reward = rewards.get("api_grounded")
    assert reward.requires == ("api_path",)
    fn = reward.bind({}, {"report_type": "code", "api_path": str(api)})
    completions = [
        "local t = tween.new(1, s, g)\nt:update(dt)\n",            # 1 ref, documented: 1.0
        "local t = tween.new(1)\ntween.fly(t)\n",                  # 1 good, 1 bad: 0.0
        "tween.fly()\ntween.easing.bounce()\ntween.easing.linear()\n",  # 1 good, 2 bad
        "local x = 1\n",                                           # no reference: None
        "-- tween.fly() in a comment\nlocal s = 'tween.fly'\n",   # comments/strings: None
        "tween.easing.linear(1)\ntween.easing.linear(2)\nspawn(f)\n",  # deduplicated: 1.0
        'local tween = require("tween")\ntween.fly()\n',           # a bare root is no reference
    ]
    scores, logged = call(fn, completions)
    assert scores == [1.0, 0.0, pytest.approx((1 - 2) / 3), None, None, 1.0, -1.0]
    assert logged["hallucination_rate"] == pytest.approx(3 / 7)
    assert logged["api_match_accuracy"] == pytest.approx(5 / 9)

    share_only = reward.bind({"hallucination_penalty": 0, "no_references": 0.0},
                             {"report_type": "code", "api_path": str(api)})
    scores, _ = call(share_only, completions)
    assert scores == [1.0, 0.5, pytest.approx(1 / 3), 0.0, 0.0, 1.0, 0.0]


def test_api_grounded_reads_markdown_and_names_bad_options(rewards, tmp_path):
    api = tmp_path / "api.jsonl"
    api.write_text("".join(json.dumps(r) + "\n" for r in API))
    fn = rewards.get("api_grounded").bind({}, {"report_type": "markdown", "api_path": str(api)})
    scores, _ = call(fn, ["Use `tween.new`, then:\n```lua\nTween:update(1)\ntween.flyTo()\n```"])
    assert scores == [pytest.approx((2 - 1) / 3)]
    with pytest.raises(ValueError, match="unknown option 'penalty'.*hallucination_penalty"):
        rewards.get("api_grounded").bind({"penalty": 1}, {"api_path": str(api)})
    with pytest.raises(ValueError, match="needs api_path"):
        rewards.get("api_grounded").bind({}, {"report_type": "code"})
