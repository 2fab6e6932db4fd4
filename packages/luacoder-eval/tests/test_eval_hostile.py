"""No pass for a cheat: completions written to game the verdict score zero.

Every case is a WRONG answer to ``add(a, b)`` (it subtracts) plus a trick from the issue that made
it pass before (or that fools plain ``lua`` + LuaUnit): an extra test deleting or replacing
``test_humaneval``, the harness's objects reached through ``getmetatable``, a nested runner and
``os.exit(0)``, ``lu.success()``/``lu.skip()``, a wrapped ``require``, ``_ENV`` games, a chunk
loaded under the program's name, ... Each must fail; a correct answer with the same setting
(where it makes sense) still passes, so the rules do not just fail everything. Plus the limits:
time inside ``__close`` and error-object metamethods, and bounded evaluator memory when programs
raise 100 MB error messages.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from luacoder_eval.sandbox import Limits, Program, run_program, run_programs

LIMITS = Limits(timeout=1.0, max_memory_mb=64, grace=1.0)
PROMPT = "local function add(a, b)\n"
WRONG = "    return a - b\nend\n"
RIGHT = "    return a + b\nend\n"
TESTS = """lu = require('luaunit')

function test_humaneval()
local candidate = add
    lu.assertEquals(candidate(2, 3), 5)
    lu.assertEquals(candidate(-1, 1), 0)
end

os.exit(lu.LuaUnit.run())"""


def program(body: str, cheat: str = "") -> Program:
    return Program.of(PROMPT + body + cheat, TESTS)


# (id, cheat appended after the wrong answer, 5.4 only)
CHEATS: list[tuple[str, str]] = [
    ("extra-test-deletes", "function test_aaa() test_humaneval = nil end\n"),
    ("extra-test-replaces", "function test_aaa() test_humaneval = function() end end\n"),
    ("extra-test-replaces-with-assertion",
     "function test_aaa() local lu = require('luaunit') "
     "test_humaneval = function() lu.assertTrue(true) end end\n"),
    ("getmetatable-on-harness-objects",
     "local lu = require('luaunit')\nlocal ok, e = pcall(lu.assertEquals, 1, 2)\n"
     "for _, o in ipairs({e, lu, lu.LuaUnit, io, io.stdout, os, string, ''}) do\n"
     "  local mt = getmetatable(o)\n"
     "  if type(mt) == 'table' then pcall(function() mt.__index = function() return function() end end "
     "mt.__metatable = nil end) end\nend\n"),
    ("nested-runner-then-exit",
     "local lu = require('luaunit')\nfunction test_fake() lu.assertTrue(true) end\n"
     "lu.LuaUnit.run()\nos.exit(0)\n"),
    ("nested-runner-replacing-test-then-exit",
     "local lu = require('luaunit')\ntest_humaneval = function() lu.assertTrue(true) end\n"
     "os.exit(lu.LuaUnit.run())\n"),
    ("exit-true-early", "os.exit(true)\n"),
    ("exit-through-pcall", "pcall(os.exit, 0)\n"),
    ("lu-success-from-answer",
     "local real = add\nadd = nil\nlocal function add2(a, b) require('luaunit').success() end\n"
     "add = add2\n"),
    ("success-string-raised",
     "local function cheat() error('LuaUnit test SUCCESS: ', 2) end\n"
     "add = function(a, b) cheat() end\n"),
    ("lu-skip-from-answer", "local skip = require('luaunit').skip\nadd = function() skip('no') end\n"),
    ("wrap-require-lenient",
     "local real = require\nrequire = function(n) local m = real(n)\n"
     "  if n == 'luaunit' then m.assertEquals = function() end end\n  return m end\n"),
    ("wrap-require-counting-real-assertion",
     "local real = require\nrequire = function(n) local m = real(n) local r = real(n)\n"
     "  if n == 'luaunit' then m.assertEquals = function() r.assertTrue(true) end end\n  return m end\n"),
    ("wrap-require-tail-call",
     "local real = require\nrequire = function(n) local m = real(n) local r = real(n)\n"
     "  if n == 'luaunit' then m.assertEquals = function() return r.assertTrue(true) end end\n  return m end\n"),
    ("wrap-require-fake-runner",
     "local real = require\nrequire = function(n) local m = real(n)\n"
     "  if n == 'luaunit' then m.LuaUnit = {run = function() return 0 end} end\n  return m end\n"),
    ("wrap-require-runner-deletes-test",
     "local real = require\nrequire = function(n) local m = real(n)\n"
     "  if n == 'luaunit' then local run = m.LuaUnit.run\n"
     "    m.LuaUnit = {run = function() test_humaneval = function() m.assertTrue(true) end return run() end}\n"
     "  end\n  return m end\n"),
    ("swapped-assertion",
     "local real = require\nrequire = function(n) local m = real(n)\n"
     "  if n == 'luaunit' then m.assertEquals = m.assertNotEquals end\n  return m end\n"),
    ("swapped-assertion-after-first-call",
     "local first = true\nlocal sub = add\nadd = function(a, b)\n"
     "  if first then first = false local lu = _G.lu lu.assertEquals = lu.assertEvalToTrue return 5 end\n"
     "  return sub(a, b) end\n"),
    ("swapped-assertion-via-index",
     "local real = require\nrequire = function(n) local m = real(n)\n"
     "  if n == 'luaunit' then local ne = m.assertIsNumber m.assertEquals = nil\n"
     "    setmetatable(m, {__index = function(_, k) if k == 'assertEquals' then return ne end end}) end\n"
     "  return m end\n"),
    ("success-under-an-assertion-name",
     "local real = require\nrequire = function(n) local m = real(n)\n"
     "  if n == 'luaunit' then m.assertEquals = m.success end\n  return m end\n"),
    ("runner-under-an-assertion-name",
     "local real = require\nrequire = function(n) local m = real(n)\n"
     "  if n == 'luaunit' then m.assertEquals = m.LuaUnit.run end\n  return m end\n"),
    ("local-test-name-hides-test", "local test_humaneval\n"),
    ("local-require", "local require = function() return {assertEquals = function() end, "
     "LuaUnit = {run = function() return 0 end}} end\n"),
    ("local-lu-then-swap", "local lu\nlocal sub = add\nadd = function(a, b) lu.assertEquals = lu.assertNotEquals "
     "return sub(a, b) end\n"),
    ("env-newindex-swallows-test",
     "setmetatable(_ENV, {__newindex = function(t, k, v)\n"
     "  if k == 'test_humaneval' then rawset(t, k, function() require('luaunit').assertTrue(true) end)\n"
     "  else rawset(t, k, v) end end})\n"),
    ("local-env-hides-test",
     "local _ENV = setmetatable({}, {__index = _G})\n"
     "_G.test_fake = function() _G.require('luaunit').assertTrue(true) end\n"),
    ("load-under-program-name",
     "local _ENV = setmetatable({}, {__index = _G})\n"
     "_G.load(('\\n'):rep(300) .. \"function test_fake() require('luaunit').assertTrue(true) end\", "
     "'=program', 't', _G)()\n"),
    ("replace-globals-used-by-luaunit",
     "type = function() return 'nil' end\nstring.find = function() return 1, 1 end\n"
     "next = function() return nil end\npairs = function() return function() end end\n"),
    ("finalizer-exits", "setmetatable({}, {__gc = function() os.exit(0) end})\ncollectgarbage()\n"),
    ("comments-out-the-tests", "--[[\n"),
    ("yield-before-tests", "coroutine.yield()\n"),
    ("carriage-returns-shift-lines",
     "\r" * 60 + "local real = require\nrequire = function(n) local m = real(n) local r = real(n)\n"
     "  if n == 'luaunit' then m.assertEquals = function() r.assertTrue(true) end end\n  return m end\n"),
    ("wrapped-runner-suite",
     "local real = require\nrequire = function(n) local m = real(n)\n"
     "  if n == 'luaunit' then local new = m.LuaUnit.new\n"
     "    m.LuaUnit.run = function() test_humaneval = function() m.assertTrue(true) end "
     "return new():runSuite() end end\n  return m end\n"),
    ("close-handler-exits",
     "do local x <close> = setmetatable({}, {__close = function() os.exit(0) end}) end\n"),
]


@pytest.mark.parametrize("name, cheat", CHEATS, ids=[c[0] for c in CHEATS])
def test_cheat_on_a_wrong_answer_fails(name, cheat):
    # through the worker pool, as `eval exec` runs them: a program recursing through pcall at the
    # C-stack limit outruns the hooks and is killed by the outer guard
    result = run_programs([program(WRONG, cheat)], LIMITS, workers=1)[0]
    assert not result.passed, (name, result)


def test_the_runner_object_idiom_passes():
    tests = TESTS.replace("os.exit(lu.LuaUnit.run())",
                          "local runner = lu.LuaUnit.new()\nrunner:setOutputType('text')\n"
                          "os.exit(runner:runSuite())")
    assert run_program(Program.of(PROMPT + RIGHT, tests), LIMITS).passed
    assert not run_program(Program.of(PROMPT + WRONG, tests), LIMITS).passed


def test_the_same_rules_pass_an_honest_answer():
    assert run_program(program(RIGHT), LIMITS).passed
    for version in ("5.3", "5.4"):
        assert run_program(program(RIGHT), Limits(timeout=1.0, lua_version=version)).passed
    # harmless code around a right answer is still a pass
    assert run_program(program(RIGHT, "local lu2 = require('luaunit')\nprint(lu2.VERSION)\n"), LIMITS).passed


@pytest.mark.parametrize("cheat", [
    # a correct answer followed by os.exit(false)/os.exit(1): plain lua exits 1, a fail
    "local exit = os.exit\nos.exit = function() exit(false) end\n",
    "local exit = os.exit\nos.exit = function() exit(1) end\n",
])
def test_a_failure_status_after_the_tests_is_a_failure(cheat):
    result = run_program(program(RIGHT, cheat), LIMITS)
    assert not result.passed and result.kind == "runtime", result


def test_without_knowing_where_the_tests_start_nothing_is_trusted_less():
    """Plain strings are all tests' own code (a hand-written test file), still judged by LuaUnit."""
    source = PROMPT + WRONG + "\n" + TESTS
    assert not run_program(source, LIMITS).passed
    assert run_program(PROMPT + RIGHT + "\n" + TESTS, LIMITS).passed


@pytest.mark.parametrize("body, kind", [
    # time limits hold inside __close, error-object metamethods, message handlers
    ("    do local x <close> = setmetatable({}, {__close = function() while true do end end}) end\n"
     "    return a + b\nend\n", "timeout"),
    ("    error(setmetatable({}, {__tostring = function() while true do end end}))\nend\n", "timeout"),
    ("    return select(2, xpcall(function() error('x') end, function() while true do end end))\nend\n",
     "timeout"),
    ("    local t = setmetatable({}, {__index = function(t, k) while true do end end})\n"
     "    return t.x\nend\n", "timeout"),
])
def test_limits_hold_inside_metamethods(body, kind):
    result = run_program(program(body), LIMITS)
    assert not result.passed and result.kind == kind, result
    assert result.seconds < LIMITS.timeout + LIMITS.grace


def test_hostile_batch_leaves_a_live_evaluator():
    batch = [program(WRONG, cheat) for _, cheat in CHEATS] + [program(RIGHT)]
    results = run_programs(batch, LIMITS, workers=2)
    assert [r.passed for r in results] == [False] * len(CHEATS) + [True]


EVALUATOR = """
import json, resource, sys
from luacoder_eval.sandbox import Limits, Program, run_programs
size = int(sys.argv[1])
code = "local function f()\\n  error(string.rep('x', %d))\\nend" % size
tests = "lu = require('luaunit')\\nfunction test_humaneval()\\n  lu.assertEquals(f(), 1)\\nend\\nos.exit(lu.LuaUnit.run())"
programs = [Program.of(code, tests) for _ in range(8)] + [Program.of("error(string.rep('y', %d))" % size, "")]
results = run_programs(programs, Limits(timeout=10, max_memory_mb=400, process_memory_mb=2048), workers=2)
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "kinds": [r.kind for r in results], "longest": max(len(r.message) for r in results)}))
"""


def test_huge_error_messages_do_not_reach_the_evaluator():
    """Nine programs raising 100 MB error messages: the messages are cut in the worker, so the
    evaluator process stays within a few MB of the same run with tiny messages."""
    def run(size: int) -> dict:
        proc = subprocess.run([sys.executable, "-c", EVALUATOR, str(size)], capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    small, huge = run(10), run(100 << 20)
    assert huge["kinds"] == ["runtime"] * 9, huge
    assert huge["longest"] <= Limits().max_message + 200
    assert huge["maxrss_kb"] - small["maxrss_kb"] < 50 * 1024, (small, huge)


def test_deadline_without_the_watchdog(monkeypatch):
    """Where lupa's lua_sethook cannot be reached, the main coroutine carries a count hook from
    the start: slower, still bounded."""
    import luacoder_eval.sandbox.runtime as runtime

    monkeypatch.setattr(runtime, "_hooks", lambda version: None)
    result = run_program(Program.of("while true do end", TESTS), Limits(timeout=0.3))
    assert result.kind == "timeout" and result.seconds < 1.0
    assert run_program(program(RIGHT), LIMITS).passed
