"""Differential testing: on honest programs the sandbox's verdict is the reference's.

The reference is MultiPL-E's way of running Lua: the program in a file, Debian's ``lua5.3`` or
``lua5.4`` with the real LuaUnit (``lua-unit``) as a fresh process, pass on exit code 0. Every
program of the corpus below (honest code: LuaUnit's assertion semantics, tables with holes,
floats and integers, strings, errors, output calls, the compatibility functions, ``bit32``) runs
through both under both versions, and the verdicts must be equal; where the sandbox differs on
purpose the case is in ``INTENTIONAL`` with the reason. The real completions of
``../shared/data/eval/multipl_e_real`` are compared too (slow: 1,029 programs per version).

Skipped with a reason where ``lua5.3``/``lua5.4`` or LuaUnit are not installed (CI installs
Debian's ``lua5.3 lua5.4 lua-unit``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from luacoder_eval.sandbox import Limits, Program, run_programs

VERSIONS = ("5.3", "5.4")
LIMITS = {v: Limits(timeout=5.0, lua_version=v) for v in VERSIONS}


def reference_available(version: str) -> str | None:
    """Why the reference cannot run under ``version`` (None when it can)."""
    if shutil.which(f"lua{version}") is None:
        return f"lua{version} not installed (apt-get install lua{version})"
    if not Path(f"/usr/share/lua/{version}/luaunit.lua").is_file():
        return f"LuaUnit for Lua {version} not installed (apt-get install lua-unit)"
    return None


def reference_passes(source: str, version: str, tmp_path: Path, name: str) -> bool:
    """MultiPL-E's rule: ``lua FILE``, a 15 s timeout, pass only on exit code 0."""
    path = tmp_path / f"{name}-{version}.lua"
    path.write_text(source, encoding="utf-8")
    try:
        proc = subprocess.run([f"lua{version}", str(path)], capture_output=True, timeout=15,
                              cwd=tmp_path, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


def make_tests(body: str) -> str:
    """MultiPL-E's test file around ``body`` (the lines of test_humaneval)."""
    return ("lu = require('luaunit')\n\nfunction test_humaneval()\nlocal candidate = f\n"
            + body.strip("\n") + "\nend\n\nos.exit(lu.LuaUnit.run())")


# (id, completion (the program before the tests; defines `f`), test body)
CORPUS: list[tuple[str, str, str]] = [
    # LuaUnit's deep equality: key by key, nil holes, integers equal floats
    ("holes-equal", "local function f() local r = {} r[2] = 1 return r end",
     "    lu.assertEquals(candidate(), {nil, 1})"),
    ("holes-differ", "local function f() return {1, nil, 3} end",
     "    lu.assertEquals(candidate(), {1, 2, 3})"),
    ("float-equals-int", "local function f(x) return x / 2 end",
     "    lu.assertEquals(candidate(4), 2)\n    lu.assertEquals(candidate(4), 2.0)"),
    ("nested-float-int", "local function f() return {1.0, {2.0, 'x'}} end",
     "    lu.assertEquals(candidate(), {1, {2, 'x'}})"),
    ("float-key-normalised", "local function f() local t = {} t[1.0] = 'a' return t end",
     "    lu.assertEquals(candidate(), {'a'})"),
    ("extra-key-differs", "local function f() return {a = 1, b = 2} end",
     "    lu.assertEquals(candidate(), {a = 1})"),
    ("string-keys-equal", "local function f() return {b = {1, 2}, a = 'x'} end",
     "    lu.assertEquals(candidate(), {a = 'x', b = {1, 2}})"),
    ("cycles-equal", "local function f() local t = {} t.self = t return t end",
     "    local u = {} u.self = u\n    lu.assertEquals(candidate(), u)"),
    ("number-vs-string", "local function f() return '1' end", "    lu.assertEquals(candidate(), 1)"),
    ("float-rounding-fails", "local function f() return 0.1 + 0.2 end",
     "    lu.assertEquals(candidate(), 0.3)"),
    ("almost-equals", "local function f() return 0.1 + 0.2 end",
     "    lu.assertAlmostEquals(candidate(), 0.3, 1e-9)"),
    ("metatable-ignored-by-equality",
     "local function f() return setmetatable({1, 2}, {__eq = function() return false end}) end",
     "    lu.assertEquals(candidate(), {1, 2})"),
    ("not-equals", "local function f() return {1, 2} end", "    lu.assertNotEquals(candidate(), {1, 2, 3})"),
    ("items-equal", "local function f() return {3, 1, 2} end", "    lu.assertItemsEquals(candidate(), {1, 2, 3})"),
    ("assert-true-is-strict", "local function f() return 1 end", "    lu.assertTrue(candidate())"),
    ("eval-to-true", "local function f() return 1 end", "    lu.assertEvalToTrue(candidate())"),
    ("assert-false-nil-fails", "local function f() return nil end", "    lu.assertFalse(candidate())"),
    ("assert-nil", "local function f() end", "    lu.assertNil(candidate())\n    lu.assertIsNil(candidate())"),
    ("type-assertions", "local function f() return 1, 's', {} end",
     "    local a, b, c = candidate()\n    lu.assertIsNumber(a)\n    lu.assertIsString(b)\n"
     "    lu.assertIsTable(c)\n    lu.assertNotIsString(a)"),
    ("str-contains", "local function f() return 'hello world' end",
     "    lu.assertStrContains(candidate(), 'o w')\n    lu.assertStrIContains(candidate(), 'HELLO')\n"
     "    lu.assertStrMatches(candidate(), 'h%a+ %a+')"),
    ("str-contains-fails", "local function f() return 'hello' end",
     "    lu.assertStrContains(candidate(), 'xyz')"),
    ("table-contains", "local function f() return {1, {2}, 'x'} end",
     "    lu.assertTableContains(candidate(), {2})\n    lu.assertNotTableContains(candidate(), 3)"),
    ("assert-error", "local function f(x) if x < 0 then error('negative input') end return x end",
     "    lu.assertError(candidate, -1)\n    lu.assertErrorMsgContains('negative', candidate, -1)\n"
     "    lu.assertEquals(candidate(3), 3)"),
    ("assert-error-msg-content", "local function f() error('bad value') end",
     "    lu.assertErrorMsgContentEquals('bad value', candidate)"),
    ("assert-error-no-error-fails", "local function f() return 1 end", "    lu.assertError(candidate)"),
    ("assert-is-same-object", "local t = {}\nlocal function f() return t end",
     "    lu.assertIs(candidate(), candidate())\n    lu.assertNotIs(candidate(), {})"),
    ("nan-and-inf", "local function f() return 0/0, 1/0 end",
     "    local n, i = candidate()\n    lu.assertNaN(n)\n    lu.assertInf(i)\n    lu.assertIsPlusInf(i)"),
    # the standard library as Debian builds it
    ("math-pow", "local function f(x) return math.pow(x, 2) end", "    lu.assertEquals(candidate(12), 144)"),
    ("math-compat", "local function f() return math.log10(1000), math.ldexp(0.5, 3), math.frexp(8) end",
     "    local a, b, c = candidate()\n    lu.assertAlmostEquals(a, 3, 1e-12)\n    lu.assertEquals(b, 4)\n"
     "    lu.assertEquals(c, 0.5)"),
    ("math-floor-integer", "local function f(x) return math.floor(x), math.type(math.floor(x)) end",
     "    local a, b = candidate(3.7)\n    lu.assertEquals(a, 3)\n    lu.assertEquals(b, 'integer')"),
    ("integer-division", "local function f(a, b) return a // b, a % b, a / b end",
     "    local q, r, d = candidate(7, 2)\n    lu.assertEquals(q, 3)\n    lu.assertEquals(r, 1)\n"
     "    lu.assertEquals(d, 3.5)"),
    ("tostring-float", "local function f() return tostring(10 / 2), tostring(3) end",
     "    local a, b = candidate()\n    lu.assertEquals(a, '5.0')\n    lu.assertEquals(b, '3')"),
    ("integer-wraparound", "local function f() return math.maxinteger + 1 == math.mininteger end",
     "    lu.assertTrue(candidate())"),
    ("bit32", "local function f(a, b) return bit32.band(a, b), bit32.bxor(a, b), bit32.lshift(1, 4) end",
     "    local a, b, c = candidate(12, 10)\n    lu.assertEquals(a, 8)\n    lu.assertEquals(b, 6)\n"
     "    lu.assertEquals(c, 16)"),
    ("bit32-edge", "local function f() return bit32.bnot(0), bit32.arshift(-8, 1), bit32.extract(0xF0, 4, 4), "
     "bit32.rrotate(1, 1) end",
     "    local a, b, c, d = candidate()\n    lu.assertEquals(a, 4294967295)\n    lu.assertEquals(b, 4294967292)\n"
     "    lu.assertEquals(c, 15)\n    lu.assertEquals(d, 2147483648)"),
    ("unpack-global-missing", "local function f(t) return unpack(t) end", "    lu.assertEquals(candidate({1}), 1)"),
    ("string-format", "local function f(x) return string.format('%5.2f|%d|%s|%q', x, 3, 'a', 'b') end",
     "    lu.assertEquals(candidate(3.14159), ' 3.14|3|a|\"b\"')"),
    ("string-format-float-d", "local function f() return string.format('%d', 3.0) end",
     "    lu.assertEquals(candidate(), '3')"),
    ("string-format-bad-d", "local function f() return string.format('%d', 3.5) end",
     "    lu.assertEquals(candidate(), '3')"),
    ("string-ops", "local function f(s) return s:upper(), s:rep(2, '-'), s:sub(2, 3), select(2, s:gsub('a', 'b')) end",
     "    local a, b, c, d = candidate('banana')\n    lu.assertEquals(a, 'BANANA')\n"
     "    lu.assertEquals(b, 'banana-banana')\n    lu.assertEquals(c, 'an')\n    lu.assertEquals(d, 3)"),
    ("patterns", "local function f(s) local t = {} for w in s:gmatch('%a+') do t[#t + 1] = w end "
     "return t, s:match('%b()'), s:find('%f[%a]is') end",
     "    local t, b, i = candidate('this (is) it')\n    lu.assertEquals(t, {'this', 'is', 'it'})\n"
     "    lu.assertEquals(b, '(is)')\n    lu.assertEquals(i, 7)"),
    ("utf8", "local function f() return utf8.char(72, 228), utf8.len('h\\u{e4}') end",
     "    local s, n = candidate()\n    lu.assertEquals(s, 'H\\u{e4}')\n    lu.assertEquals(n, 2)"),
    ("table-functions", "local function f(t) table.sort(t, function(a, b) return a > b end) "
     "table.insert(t, 1, 0) return table.concat(t, ','), select('#', table.unpack(t)), table.remove(t) end",
     "    local s, n, last = candidate({3, 1, 2})\n    lu.assertEquals(s, '0,3,2,1')\n    lu.assertEquals(n, 4)\n"
     "    lu.assertEquals(last, 1)"),
    # output calls are harmless
    ("print-and-write", "local function f(x) print('x =', x, nil, true) io.write('a', 1, 2.5, '\\n')\n"
     "  io.write('b'):write('c\\n') io.stdout:write('d', '\\n'):write('e\\n') io.stderr:write('err\\n') "
     "return x end", "    lu.assertEquals(candidate(5), 5)"),
    ("standard-files", "local function f() return type(io.stdout), io.type(io.stderr), io.read() end",
     "    local a, b, c = candidate()\n    lu.assertEquals(a, 'userdata')\n    lu.assertEquals(b, 'file')\n"
     "    lu.assertNil(c)"),
    ("string-metatable-methods", "getmetatable('').__index.twice = function(s) return s .. s end\n"
     "local function f(s) return s:twice(), getmetatable('').__index == string end",
     "    local a, b = candidate('ab')\n    lu.assertEquals(a, 'abab')\n    lu.assertTrue(b)"),
    ("traceback-handler", "local function f() local ok, tb = xpcall(function() error('boom') end, debug.traceback) "
     "return ok, type(tb), tb:find('boom') ~= nil end",
     "    local ok, t, found = candidate()\n    lu.assertFalse(ok)\n    lu.assertEquals(t, 'string')\n"
     "    lu.assertTrue(found)"),
    ("error-not-enough-memory-string", "local function f() return pcall(error, 'not enough memory', 0) end",
     "    local ok, e = candidate()\n    lu.assertFalse(ok)\n    lu.assertEquals(e, 'not enough memory')"),
    # errors
    ("runtime-error", "local function f(t) return t.x.y end", "    lu.assertEquals(candidate({}), 1)"),
    ("error-object-table", "local function f() error({code = 1}) end", "    lu.assertEquals(candidate(), 1)"),
    ("pcall-caught", "local function f() local ok, e = pcall(error, 'x') return ok end",
     "    lu.assertFalse(candidate())"),
    ("os-exit-inside-test", "local function f() os.exit(0) end", "    lu.assertEquals(candidate(), 1)"),
    ("os-exit-1-top-level", "local function f() return 1 end\nos.exit(1)", "    lu.assertEquals(candidate(), 1)"),
    # LuaUnit's discovery: every global whose name starts with "test"
    ("non-function-test-global", "local function f() return 1 end\ntestcases = 5", "    lu.assertEquals(candidate(), 1)"),
    ("test-table-without-methods", "local function f() return 1 end\nTestHelpers = {}",
     "    lu.assertEquals(candidate(), 1)"),
    ("extra-test-passes", "local function f() return 1 end\nfunction test_extra() lu.assertTrue(true) end",
     "    lu.assertEquals(candidate(), 1)"),
    ("extra-test-fails", "local function f() return 1 end\nfunction test_extra() error('broken helper') end",
     "    lu.assertEquals(candidate(), 1)"),
    ("helper-named-like-a-test", "local function f(n) return testPrime(n) end\n"
     "function testPrime(n) if n < 2 then return false end for i = 2, n - 1 do if n % i == 0 then "
     "return false end end return true end", "    lu.assertTrue(candidate(7))"),
    ("boolean-named-like-a-test", "local function f() return 1 end\ntesting = true",
     "    lu.assertEquals(candidate(), 1)"),
    ("os-removed-before-exit", "local function f() return 1 end\nos = nil", "    lu.assertEquals(candidate(), 1)"),
    ("error-with-nil", "local function f() error() end", "    lu.assertEquals(candidate(), 1)"),
    ("nan-in-tables", "local function f() return {0/0} end", "    lu.assertEquals(candidate(), {0/0})"),
    ("negative-zero", "local function f() return -0.0 end", "    lu.assertEquals(candidate(), 0)"),
    # ordinary Lua
    ("coroutine-generator", "local function f(n) local co = coroutine.wrap(function() for i = 1, n do "
     "coroutine.yield(i) end end) local s = 0 for _ = 1, n do s = s + co() end return s end",
     "    lu.assertEquals(candidate(10), 55)"),
    ("load-chunk", "local function f(e) return load('return ' .. e)() end", "    lu.assertEquals(candidate('1 + 2'), 3)"),
    ("oop-metatables", "local P = {} P.__index = P\nfunction P.new(x) return setmetatable({x = x}, P) end\n"
     "function P:get() return self.x end\nlocal function f(x) return P.new(x):get() end",
     "    lu.assertEquals(candidate(4), 4)"),
    ("goto-continue", "local function f(n) local s = 0 for i = 1, n do if i % 2 == 0 then goto continue end "
     "s = s + i ::continue:: end return s end", "    lu.assertEquals(candidate(10), 25)"),
    ("deep-recursion", "local function f(n) if n == 0 then return 0 end return 1 + f(n - 1) end",
     "    lu.assertEquals(candidate(10000), 10000)"),
    ("tail-recursion", "local function f(n, acc) if n == 0 then return acc end return f(n - 1, acc + 1) end",
     "    lu.assertEquals(candidate(200000, 0), 200000)"),
    ("os-date-time", "local function f() return type(os.time()), type(os.date('%Y')), os.clock() >= 0 end",
     "    local a, b, c = candidate()\n    lu.assertEquals(a, 'number')\n    lu.assertEquals(b, 'string')\n"
     "    lu.assertTrue(c)"),
    ("wrong-answer", "local function f(a, b) return a - b end", "    lu.assertEquals(candidate(2, 3), 5)"),
    ("syntax-error", "local function f(a, b) return a + end", "    lu.assertEquals(candidate(2, 3), 5)"),
    # where the sandbox differs on purpose (see INTENTIONAL)
    ("writes-a-file", "local function f() local fh = io.open('/dev/null', 'w') fh:write('x') fh:close() return 1 end",
     "    lu.assertEquals(candidate(), 1)"),
    ("exit-0-before-tests", "local function f() return 0 end\nos.exit(0)", "    lu.assertEquals(candidate(), 1)"),
]

#: id -> why the sandbox's verdict differs from plain lua's (the sandbox fails; lua passes)
INTENTIONAL = {
    "writes-a-file": "the sandbox forbids files (io.open is a sandbox violation)",
    "exit-0-before-tests": "os.exit(0) before the tests ran is early_exit, not a pass",
}


def test_corpus_is_big_and_mixed():
    assert len(CORPUS) >= 40 and len({c[0] for c in CORPUS}) == len(CORPUS)
    assert set(INTENTIONAL) <= {c[0] for c in CORPUS}


@pytest.mark.parametrize("version", VERSIONS)
def test_honest_corpus_agrees_with_the_reference(version, tmp_path):
    reason = reference_available(version)
    if reason:
        pytest.skip(reason)
    programs = [Program.of(code, make_tests(body)) for _, code, body in CORPUS]
    ours = run_programs(programs, LIMITS[version], workers=2)
    disagreements = []
    verdicts = []
    for (name, _, _), program, result in zip(CORPUS, programs, ours):
        theirs = reference_passes(program.source, version, tmp_path, name)
        verdicts.append(theirs)
        if name in INTENTIONAL:
            assert theirs and not result.passed, (name, INTENTIONAL[name], result)
            continue
        if theirs != result.passed:
            disagreements.append((name, theirs, result.kind, result.message[:200]))
    assert disagreements == []
    # the corpus holds both verdicts, so agreement is not trivial
    assert 10 <= sum(verdicts) <= len(verdicts) - 10


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_real_completions_agree_with_the_reference(version, shared_data, tmp_path):
    """The 1,029 real completions: the sandbox's verdicts against MultiPL-E's recorded ones, and
    those recorded verdicts re-checked live for every 20th program."""
    from luacoder_eval.execution import build_program, load_problems, read_exec_generations
    from luacoder_eval.metrics.pass_at_k import pass_at_k

    folder = shared_data / "eval" / "multipl_e_real"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    problems = load_problems(folder / "problems.jsonl")
    completions = read_exec_generations(folder / "generations.jsonl", problems)
    recorded = {}
    for line in (folder / "reference.jsonl").read_text().splitlines():
        record = json.loads(line)
        recorded[(record["name"], record["index"])] = record[f"lua{version.replace('.', '')}"]["passed"]
    keys, programs = [], []
    for name, texts in completions.items():
        for i, text in enumerate(texts):
            keys.append((name, i))
            programs.append(build_program(problems[name], text))
    assert len(programs) == 1029
    ours = run_programs(programs, Limits(timeout=15.0, lua_version=version), workers=2)
    equal = sum(recorded[k] == r.passed for k, r in zip(keys, ours))
    assert equal >= 1028, [(k, recorded[k], r.kind, r.message[:120]) for k, r in zip(keys, ours)
                           if recorded[k] != r.passed]

    def pass1(verdicts: dict) -> float:
        per: dict[str, list[bool]] = {}
        for (name, _), ok in verdicts.items():
            per.setdefault(name, []).append(ok)
        return sum(pass_at_k(len(v), sum(v), 1) for v in per.values()) / len(per)

    assert round(pass1({k: r.passed for k, r in zip(keys, ours)}), 3) == round(pass1(recorded), 3)
    reason = reference_available(version)
    if reason is None:
        for i in range(0, len(programs), 20):
            assert reference_passes(programs[i].source, version, tmp_path, f"real{i}") == recorded[keys[i]], keys[i]
