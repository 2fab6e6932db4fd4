"""The ``lua_tests`` reward scores hand-written completions exactly, in the sandbox's workers."""

from __future__ import annotations

import os

import pytest
from luacoder_core.plugins import make_plugin_manager

PROMPT = "local function add(a, b)\n"
TESTS = ("lu = require('luaunit')\n\nfunction test_humaneval()\nlocal candidate = add\n"
         "    lu.assertEquals(candidate(1, 2), 3)\n    lu.assertEquals(candidate(0, 0), 0)\n"
         "    lu.assertEquals(candidate(2, 2), 4)\n    lu.assertEquals(candidate(5, 0), 5)\nend\n\n"
         "os.exit(lu.LuaUnit.run())")
STOPS = ["\nlocal", "\nfunction", "\n--", "\n\n"]


@pytest.fixture(scope="module")
def lua_tests():
    pm = make_plugin_manager(only="eval")
    entry = pm.registries.rewards.entry("lua_tests")
    assert entry.plugin == "eval"
    return entry.component


def score(reward, completions, tests=TESTS, options=None, report_type="code", prompts=None):
    fn = reward.bind(dict(options or {}), {"report_type": report_type})
    n = len(completions)
    logged = {}
    scores = fn(prompts or [PROMPT] * n, completions, tests=[tests] * n if isinstance(tests, str) or tests is None
                else tests, stop_tokens=[STOPS] * n, log_metric=lambda k, v: logged.__setitem__(k, v))
    return scores, logged


def test_pass_fail_partial_share(lua_tests):
    completions = [
        "  return a + b\nend\n",              # passes all 4
        "  return a * b\nend\n",              # 2*2 == 4 and 0*0 == 0: 2 of 4
        "  if a == 1 then return 3 end\n  return a + b\nend\n",  # all 4 (a detour, still right)
        "  return a - b\nend\n",              # 0-0 and 5-0: 2 of 4
        "  return 3\nend\n",                  # only the first: 1 of 4
        "  return a +\nend\n",                # does not compile: 0
        "  while true do end\nend\n",         # time limit: 0
        "",                                   # says nothing: 0
        "  return a + b\nend\n\nprint('after the stop token is cut')",
    ]
    scores, logged = score(lua_tests, completions, options={"timeout": 0.5})
    assert scores == [1.0, 0.5, 1.0, 0.5, 0.25, 0.0, 0.0, 0.0, 1.0]
    assert logged["pass_rate"] == pytest.approx(3 / 9)


def test_prefix_grading_counts_assertions_before_the_first_failure(lua_tests):
    completions = ["  return a + b\nend\n", "  return a * b\nend\n", "  return 3\nend\n",
                   "  if a == 0 then error('boom') end\n  return a + b\nend\n", "  return a +\nend\n"]
    scores, _ = score(lua_tests, completions, options={"grading": "prefix"})
    # a * b fails the first assertion (1 * 2 ~= 3); 3 passes only the first; the error is in
    # the second assertion's call
    assert scores == [1.0, 0.0, 0.25, 0.25, 0.0]


def test_binary_grading_and_rows_without_tests(lua_tests):
    scores, logged = score(lua_tests, ["  return a * b\nend\n", "  return a + b\nend\n", "  return 1\nend"],
                           tests=[TESTS, TESTS, None], options={"grading": "binary"})
    assert scores == [0.0, 1.0, None]
    assert logged["pass_rate"] == 0.5


def test_chat_answers_run_their_code_blocks(lua_tests):
    answers = [
        "Here you go:\n\n```lua\nlocal function add(a, b)\n  return a + b\nend\n```\n",
        "Use `a + b`.",  # no code block: nothing to run
        "```lua\nfunction add(a, b) return a * b end\n```",
    ]
    chat = [[{"role": "assistant", "content": a}] for a in answers]
    prompts = [[{"role": "user", "content": "Write add(a, b) in Lua."}]] * 3
    scores, _ = score(lua_tests, chat, report_type="markdown", prompts=prompts)
    assert scores == [1.0, 0.0, 0.5]


def test_programs_run_in_a_server_process_without_the_trainers_libraries(lua_tests):
    """The programs run in workers forked from a separate server process, which never loaded
    torch (the trainer's model is not copied into processes that run generated code)."""
    import torch  # noqa: F401 - the caller is a trainer

    fn = lua_tests.bind({}, {"report_type": "code"})
    n = 2
    scores = fn([PROMPT] * n, ["  os.exit(3)\nend\n", "  io.open('/tmp/x', 'w')\nend\n"],
                tests=[TESTS] * n, stop_tokens=[STOPS] * n)
    assert scores == [0.0, 0.0]  # os.exit and io fail the program; this process lives on
    server = fn._server.process
    assert server.pid != os.getpid() and server.poll() is None
    maps = open(f"/proc/{server.pid}/maps").read()
    assert "libtorch" not in maps and "lupa" in maps
    fn._server.close()
    assert server.poll() is not None


def test_bad_options_are_named(lua_tests):
    with pytest.raises(ValueError, match="unknown option 'gradin'; did you mean 'grading'"):
        lua_tests.bind({"gradin": "share"}, {})
    with pytest.raises(ValueError, match="grading.*share, prefix, binary"):
        lua_tests.bind({"grading": "partial"}, {})


def test_identical_programs_run_once_and_verdicts_are_cached(lua_tests):
    fn = lua_tests.bind({}, {"report_type": "code"})
    logged = {}
    same = ["  return a + b\nend\n"] * 6 + ["  return a * b\nend\n"] * 2
    kwargs = dict(tests=[TESTS] * 8, stop_tokens=[STOPS] * 8,
                  log_metric=lambda k, v: logged.__setitem__(k, v))
    assert fn([PROMPT] * 8, same, **kwargs) == [1.0] * 6 + [0.5] * 2
    assert logged["sandbox_programs"] == 2 + 4  # two programs, then a * b's four assertions
    assert fn([PROMPT] * 8, same, **kwargs) == [1.0] * 6 + [0.5] * 2
    assert logged["sandbox_programs"] == 0
    uncached = lua_tests.bind({"cache_size": 0}, {"report_type": "code"})
    uncached([PROMPT] * 8, same, **kwargs)
    uncached([PROMPT] * 8, same, **kwargs)
    assert logged["sandbox_programs"] == 6
