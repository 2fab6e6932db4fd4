"""The sandbox is a security boundary: hostile programs each end as a failed sample within their
limits, create nothing on disk, cannot leak into the next program, and the evaluator lives on."""

from __future__ import annotations

import os
import time

import pytest
from luacoder_eval.sandbox import Limits, SandboxPool, run_program, run_programs

TIMEOUT = 0.5
LIMITS = Limits(timeout=TIMEOUT, max_memory_mb=16, grace=0.5)

# (id, program, expected failure kinds); PWNED is replaced by a path in the test's folder
HOSTILE = [
    ("shell-execute", "os.execute('touch PWNED')", {"sandbox"}),
    ("shell-popen", "io.popen('touch PWNED')", {"sandbox"}),
    ("file-write", "local f = io.open('PWNED', 'w') f:write('x') f:close()", {"sandbox"}),
    ("file-read", "return io.open('/etc/passwd'):read('a')", {"sandbox"}),
    ("file-lines", "for l in io.lines('/etc/passwd') do print(l) end", {"sandbox"}),
    ("file-remove", "os.remove('/etc/hostname')", {"sandbox"}),
    ("os-rename", "os.rename('a', 'PWNED')", {"sandbox"}),
    ("os-getenv", "return os.getenv('HOME')", {"sandbox"}),
    ("dofile", "dofile('/etc/passwd')", {"sandbox"}),
    ("loadfile", "loadfile('/etc/passwd')", {"sandbox"}),
    ("require-native", "require('socket')", {"sandbox"}),
    ("require-io", "local io = require('io') io.open('PWNED', 'w')", {"sandbox"}),
    ("loadlib", "package.loadlib('libc.so.6', 'system')('touch PWNED')", {"sandbox"}),
    ("package-path", "package.cpath = '/tmp/?.so'", {"sandbox"}),
    ("debug-library", "debug.sethook()", {"sandbox"}),
    ("debug-via-require", "require('debug').getinfo(1)", {"sandbox"}),
    ("bytecode-dump", "load(string.dump(function() return 1 end))()", {"sandbox"}),
    ("bytecode-load", "load('\\27Lua\\x54\\x00\\x19\\x93')", {"sandbox"}),
    ("bytecode-reader", "local sent = false\nload(function() if sent then return nil end sent = true "
                        "return '\\27Lua' end)", {"sandbox"}),
    ("python-escape", "python.eval(\"__import__('os').system('touch PWNED')\")", {"runtime"}),
    ("infinite-loop", "while true do end", {"timeout"}),
    ("loop-catching-timeouts", "while true do pcall(function() while true do end end) end", {"timeout"}),
    ("xpcall-handler-loop", "xpcall(function() while true do end end, function(e) while true do end end)",
     {"timeout"}),
    ("coroutine-loop", "coroutine.wrap(function() while true do end end)()", {"timeout"}),
    ("coroutine-resume-loop", "local co = coroutine.create(function() while true do end end)\n"
                              "print(coroutine.resume(co))", {"timeout"}),
    ("tail-call-forever", "local function f() return f() end f()", {"timeout"}),
    ("table-memory-bomb", "local t = {} while true do t[#t + 1] = ('x'):rep(2^20) .. #t end", {"memory"}),
    ("string-memory-bomb", "local s = 'x' while true do s = s .. s end", {"memory", "runtime"}),
    ("huge-rep", "local s = ('x'):rep(2^40)", {"memory", "runtime"}),
    ("gc-stop-then-bomb", "collectgarbage('stop') local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(2^16) .. i end",
     {"memory"}),
    ("gc-loop", "for i = 1, 1e9 do collectgarbage() end", {"timeout"}),
    ("gc-finalizer", "setmetatable({}, {__gc = function() while true do end end}) collectgarbage() "
                     "os.execute('touch PWNED')", {"sandbox"}),
    ("deep-recursion", "local function f(n) return 1 + f(n + 1) end f(1)", {"runtime", "memory"}),
    ("c-stack-recursion", "local t = setmetatable({}, {__index = function(t, k) return t[k] end})\n"
                          "return t.x", {"runtime"}),
    # the string metatable is the program's own (a fresh runtime): changing it harms nobody
    ("string-metatable", "getmetatable('').__index = function() return 'pwned' end", {"no_tests"}),
    ("pathological-pattern", "local s = ('a'):rep(6000) .. 'b'\nreturn s:find('.-.-c')", {"timeout"}),
    ("yield-from-main", "coroutine.yield(1)", {"runtime"}),
    # exponential recursion through pcall at the C-stack limit: Lua turns the hook's error into
    # "C stack overflow" there; the outer guard kills the worker
    ("pcall-recursion-at-c-limit", "local function f(d) pcall(f, d + 1) pcall(f, d + 1) end f(0)",
     {"timeout", "runtime", "memory"}),
    ("error-object-tostring-loop",
     "error(setmetatable({}, {__tostring = function() while true do end end}))", {"runtime"}),
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_hostile_programs_fail_within_limits(workdir):
    programs = [source.replace("PWNED", str(workdir / "PWNED")) for _, source, _ in HOSTILE]
    start = time.monotonic()
    results = run_programs(programs, LIMITS, workers=2)
    elapsed = time.monotonic() - start
    wrong = []
    for (name, _source, kinds), result in zip(HOSTILE, results):
        if result.passed or result.kind not in kinds:
            wrong.append((name, result.kind, result.message))
        # inside its limits: the deadline plus the outer guard's grace, with slack for a busy box
        assert result.seconds < TIMEOUT + LIMITS.grace + 1.5, (name, result.seconds)
    assert not wrong
    assert os.listdir(workdir) == []
    # every timeout would serialise to ~1s; 2 workers must keep the suite well below that sum
    assert elapsed < len(HOSTILE) * (TIMEOUT + LIMITS.grace)
    # the evaluator is alive: a good program after the storm passes
    good = "lu = require('luaunit')\nfunction test_x() lu.assertEquals({1, {2}}, {1, {2}}) end\n" \
           "os.exit(lu.LuaUnit.run())"
    assert run_programs([good], LIMITS, workers=1)[0].passed


def test_pathological_pattern_is_killed_by_the_outer_guard(workdir):
    result = run_programs(["local s = ('a'):rep(6000) .. 'b'\nreturn s:find('.-.-c')"], LIMITS,
                          workers=1)[0]
    assert result.kind == "timeout"
    assert "outer guard" in result.message


def test_a_pool_keeps_its_workers_across_batches_and_replaces_a_killed_one(workdir):
    """SandboxPool (the lua_tests reward's per-step batches): the second batch runs in the
    workers the first left, a worker killed by the outer guard is replaced, and state never
    crosses batches (a fresh runtime per program, in the same worker)."""
    ok = ("lu = require('luaunit')\nfunction test_ok() lu.assertNil(leaked) end\n"
          "os.exit(lu.LuaUnit.run())")
    with SandboxPool(LIMITS, workers=2) as pool:
        first = pool.run(["leaked = true", ok])
        pids = sorted(w.proc.pid for w in pool._workers)
        second = pool.run([ok, ok, ok])
        assert sorted(w.proc.pid for w in pool._workers) == pids
        stuck = pool.run(["local s = ('a'):rep(6000) .. 'b'\nreturn s:find('.-.-c')", ok])
        after = pool.run([ok, ok])
    assert first[0].kind == "no_tests" and first[1].passed, first[1].message
    assert all(r.passed for r in second), [r.message for r in second]
    assert stuck[0].kind == "timeout" and stuck[1].passed
    assert all(r.passed for r in after), [r.message for r in after]
    assert pool._workers == []  # closed on exit


def test_no_leak_between_programs(workdir):
    """One worker runs both programs in turn; the first one's changes to the shared string
    table and globals are gone for the second (a fresh runtime per program)."""
    tamper = ("string.upper = function() return 'hacked' end\nstring.len = nil\n"
              "rawset(_G, 'lu', {})\nleaked = true\n")
    check = ("lu = require('luaunit')\nfunction test_clean()\n  lu.assertEquals(('a'):upper(), 'A')\n"
             "  lu.assertEquals(#'abc', string.len('abc'))\n  lu.assertNil(leaked)\nend\n"
             "os.exit(lu.LuaUnit.run())")
    first, second = run_programs([tamper, check], LIMITS, workers=1)
    assert first.kind == "no_tests"
    assert second.passed, second.message


def test_luaunit_compatibility():
    program = r"""
lu = require('luaunit')
TestGroup = {}
function TestGroup:setUp() self.x = 41 end
function TestGroup:testSetUp() lu.assertEquals(self.x + 1, 42) end
function test_assertions()
  lu.assertEquals({a = {1, 2, {3}}, b = 'x'}, {b = 'x', a = {1, 2, {3}}})
  lu.assertNotEquals({1, 2}, {1, 2, 3})
  lu.assertEquals(1, 1.0)
  lu.assertTrue(true); lu.assertFalse(false); lu.assertNil(nil); lu.assertNotNil(0)
  lu.assertEvalToTrue(0); lu.assertEvalToFalse(nil)
  lu.assertAlmostEquals(0.1 + 0.2, 0.3, 1e-9)
  lu.assertStrContains('hello world', 'o w'); lu.assertStrIContains('HELLO', 'ell')
  lu.assertStrMatches('abc123', '%a+%d+')
  lu.assertItemsEquals({3, 1, 2}, {1, 2, 3})
  lu.assertError(error, 'x')
  lu.assertErrorMsgContains('bad', function() error('a bad thing') end)
  lu.assertIsNumber(1); lu.assertIsString('s'); lu.assertIsTable({}); lu.assertIsFunction(print)
  lu.assertTableContains({1, {2}}, {2})
  lu.assert_equals('a', 'a')
  local cyc = {}; cyc.self = cyc
  local cyc2 = {}; cyc2.self = cyc2
  lu.assertEquals(cyc, cyc2)
end
os.exit(lu.LuaUnit.run())
"""
    result = run_program(program, LIMITS)
    assert result.passed, result.message
    assert result.tests == 2 and result.assertions >= 20


@pytest.mark.parametrize("body, kind", [
    ("lu.assertEquals({1, 2}, {1, 2, 3})", "assertion"),
    ("lu.assertTrue(1)", "assertion"),          # LuaUnit >= 3.3: assertTrue is strict
    ("lu.assertEquals(1, '1')", "assertion"),
    ("local x = nil; return x.y", "runtime"),
    ("lu.assertEquals(0.1 + 0.2, 0.3)", "assertion"),
])
def test_failing_tests(body, kind):
    program = f"lu = require('luaunit')\nfunction test_it()\n  {body}\nend\nos.exit(lu.LuaUnit.run())"
    result = run_program(program, LIMITS)
    assert not result.passed and result.kind == kind
    assert result.tests == 1


def test_a_pass_needs_tests_that_ran():
    no_run = "lu = require('luaunit')\nfunction test_x() lu.assertTrue(true) end\n"
    assert run_program(no_run, LIMITS).kind == "no_tests"
    no_test_functions = "lu = require('luaunit')\nos.exit(lu.LuaUnit.run())"
    assert run_program(no_test_functions, LIMITS).kind == "no_tests"
    fake_runner = ("require = function() return {LuaUnit = {run = function() return 0 end}} end\n"
                   "lu = require('luaunit')\nfunction test_x() end\nos.exit(lu.LuaUnit.run())")
    assert run_program(fake_runner, LIMITS).kind == "early_exit"
    ok_without_exit = "lu = require('luaunit')\nfunction test_x() lu.assertTrue(true) end\nlu.LuaUnit.run()"
    assert run_program(ok_without_exit, LIMITS).passed


def test_print_output_is_captured_and_capped():
    result = run_program("for i = 1, 1e5 do print(('x'):rep(100)) end\nio.write('end')",
                         Limits(timeout=5, max_output=1000))
    assert len(result.output) == 1000
