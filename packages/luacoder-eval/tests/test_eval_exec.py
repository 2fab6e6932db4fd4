"""``luacoder eval exec`` on HumanEval-Lua: empty completions fail, hand-solved ones pass, an
early ``os.exit(0)`` fails; pass@k is the unbiased estimator."""

from __future__ import annotations

import json
import shutil
import subprocess
from math import comb

import pytest
from luacoder_eval.metrics.pass_at_k import pass_at_k


def humaneval(shared_data):
    return shared_data / "eval" / "humaneval_lua.jsonl"


def problems_of(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_gens(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def exec_json(invoke, problems, gens, *extra):
    result = invoke("eval", "exec", "--problems", problems, "--generations", gens, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_empty_completions_fail_all_161(invoke, shared_data, tmp_path):
    problems = problems_of(humaneval(shared_data))
    assert len(problems) == 161
    gens = write_gens(tmp_path / "gens.jsonl", [{"name": p["name"], "completions": [""]} for p in problems])
    data = exec_json(invoke, humaneval(shared_data), gens, "-k", "1")
    assert data["exec_programs"] == 161 and data["exec_passed"] == 0
    assert data["pass@1"] == 0.0
    assert data["exec_failures"] == {"syntax": 161}
    assert all(p["c"] == 0 for p in data["per_problem"])


def test_hand_solved_completions_pass(invoke, shared_data, humaneval_solutions, tmp_path):
    solutions = problems_of(humaneval_solutions)
    data = exec_json(invoke, humaneval(shared_data), humaneval_solutions, "-k", "1")
    assert data["exec_programs"] == len(solutions) >= 10
    failed = [(p["name"], p["samples"]) for p in data["per_problem"] if p["c"] != 1]
    assert not failed
    assert data["pass@1"] == 1.0
    assert len(data["missing"]) == 161 - len(solutions)


def test_wrong_and_right_completions_mix(invoke, shared_data, humaneval_solutions, tmp_path):
    """Per-problem n/c and pass@k over several completions, with the failure kinds."""
    solved = {r["name"]: r["completion"] for r in problems_of(humaneval_solutions)}
    name = "HumanEval_23_strlen"
    rows = [{"name": name, "completions": [solved[name], "    return 0\nend", "    return #string +\nend",
                                           "    error('boom')\nend"]},
            {"name": "HumanEval_55_fib", "completion": solved["HumanEval_55_fib"]}]
    gens = write_gens(tmp_path / "gens.jsonl", rows)
    results = tmp_path / "per_problem.jsonl"
    data = exec_json(invoke, humaneval(shared_data), gens, "-k", "1,2,10", "--results", results)
    strlen = next(p for p in data["per_problem"] if p["name"] == name)
    assert (strlen["n"], strlen["c"]) == (4, 1)
    assert strlen["failures"] == {"assertion": 1, "syntax": 1, "runtime": 1}
    assert strlen["pass@1"] == pytest.approx(0.25)
    assert strlen["pass@2"] == pytest.approx(1 - comb(3, 2) / comb(4, 2))
    assert strlen["pass@10"] is None
    assert data["pass@1"] == pytest.approx((0.25 + 1.0) / 2)
    assert data["pass@2"] == pytest.approx(1 - comb(3, 2) / comb(4, 2))  # fib has only 1 sample
    assert data["pass@10"] is None
    assert [json.loads(line)["name"] for line in results.read_text().splitlines()] == [name, "HumanEval_55_fib"]


@pytest.mark.parametrize("completion", [
    "    os.exit(0)\nend",                            # inside the function, called by the test
    "    return #string\nend\nos.exit(0)",            # at top level after the function
    "    return 0\nend\npcall(os.exit, 0)",           # even through pcall
    "    return 0\nend\nos.exit(true, true)",
])
def test_early_os_exit_fails(invoke, shared_data, tmp_path, completion):
    gens = write_gens(tmp_path / "gens.jsonl", [{"name": "HumanEval_23_strlen", "completion": completion}])
    data = exec_json(invoke, humaneval(shared_data), gens, "-k", "1")
    assert data["exec_passed"] == 0
    assert data["exec_failures"] == {"early_exit": 1}


@pytest.mark.skipif(shutil.which("lua5.4") is None, reason="Debian lua5.4 not installed")
def test_plain_lua_would_pass_an_early_exit(shared_data, tmp_path):
    """What the sandbox guards against: plain ``lua`` exits 0 on an early os.exit(0)."""
    problem = next(p for p in problems_of(humaneval(shared_data)) if p["name"] == "HumanEval_23_strlen")
    (tmp_path / "luaunit.lua").write_text("return {LuaUnit = {run = function() return 1 end}}\n")
    program = problem["prompt"] + "    return 0\nend\nos.exit(0)\n" + problem["tests"]
    (tmp_path / "p.lua").write_text(program)
    done = subprocess.run(["lua5.4", "p.lua"], cwd=tmp_path, capture_output=True, timeout=30)
    assert done.returncode == 0


def test_pass_at_k_estimator():
    for n in range(1, 12):
        for c in range(n + 1):
            for k in range(1, n + 1):
                expected = 1 - comb(n - c, k) / comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)
    assert pass_at_k(200, 1, 100) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)


def test_exec_bad_input(invoke, shared_data, tmp_path):
    problems = humaneval(shared_data)
    unknown = write_gens(tmp_path / "u.jsonl", [{"name": "HumanEval_23_strlen", "completion": ""},
                                                {"name": "HumanEval_23_strlenn", "completion": ""}])
    result = invoke("eval", "exec", "--problems", problems, "--generations", unknown)
    assert result.exit_code == 2
    assert f"{unknown}:2: key 'name': unknown problem 'HumanEval_23_strlenn'" in result.output
    assert "did you mean 'HumanEval_23_strlen'" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"name": "HumanEval_23_strlen", "completion": ""}\n{"name": oops}\n')
    result = invoke("eval", "exec", "--problems", problems, "--generations", bad)
    assert result.exit_code == 2 and f"{bad}:2: invalid JSON" in result.output
    result = invoke("eval", "exec", "--problems", tmp_path / "missing.jsonl", "--generations", bad)
    assert result.exit_code == 2 and "missing.jsonl: file not found" in result.output
    no_tests = tmp_path / "p.jsonl"
    no_tests.write_text(json.dumps({"name": "x", "prompt": "local function f()\n"}) + "\n")
    result = invoke("eval", "exec", "--problems", no_tests, "--generations", bad)
    assert result.exit_code == 2 and "key 'tests'" in result.output


def test_lua_version_and_intervals(invoke, shared_data, tmp_path):
    """``--lua-version 5.3`` is Debian's lua5.3 (bit32 is there); 5.4 has no bit32. Both have
    the compatibility function math.pow. pass@k comes with its 95% interval over problems."""
    gens = write_gens(tmp_path / "gens.jsonl", [
        {"name": "HumanEval_23_strlen", "completions": [
            "    return bit32.band(#string, 0xFF)\nend",
            "    return math.tointeger(math.pow(#string, 1))\nend"]}])
    old = exec_json(invoke, humaneval(shared_data), gens, "-k", "1", "--lua-version", "5.3")
    new = exec_json(invoke, humaneval(shared_data), gens, "-k", "1")
    assert old["exec_passed"] == 2
    assert new["exec_passed"] == 1 and new["exec_failures"] == {"runtime": 1}
    assert new["pass@1_ci95"] == [0.5, 0.5]  # one problem: no spread to measure
    result = invoke("eval", "exec", "--problems", humaneval(shared_data), "--generations", gens,
                    "-k", "1", "--lua-version", "5.2")
    assert result.exit_code == 2 and "5.2" in result.output
