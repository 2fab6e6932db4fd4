"""Benchmark: the GRPO rewards (``lua_syntax``, ``api_grounded``, ``lua_tests``) and their share of
a GRPO step.

* **Rewards per second**: each built-in reward scores one batch in one call, as trl calls it.
  Completions: the 1,029 real HumanEval-Lua completions of ``../shared/data/eval/multipl_e_real``
  when present (else generated ones), with their problems' prompts and tests; ``api_grounded``
  reads generated markdown answers against a generated 500-name API. Baselines, same inputs, same
  run: ``check_syntax`` in a bare loop (the floor under ``lua_syntax``), eval's ``api_match``
  metric (the same rule over the same answers), and eval's ``evaluate`` (the ``eval exec`` path,
  sandbox workers forked from the calling process) for ``lua_tests``, whose cache is off here so
  every program runs.
* **Forking from the trainer**: one batch of 16 programs, ``run_programs`` called from a process
  holding torch and a model (what ``lua_tests`` would cost without its sandbox server) against
  the spawned server ``lua_tests`` uses.
* **Share of a GRPO step**: ``luacoder train grpo`` on the toy task of
  ``examples/grpo-toy/run_toy.py`` (tiny model, 16 completions of <= 12 tokens per step,
  ``lua_tests`` + ``lua_syntax``); ``task/reward_seconds`` (trl's reward computation, every
  reward) over trl's ``step_time``, with the verdict cache on (the default) and off.

Run: ``.venv/bin/python benchmarks/bench_rewards.py [--quick]``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REAL = Path(os.environ.get("LUACODER_SHARED", REPO.parent / "shared")) / "data" / "eval" / "multipl_e_real"
TOY = REPO / "examples" / "grpo-toy" / "run_toy.py"


def load_rows(limit: int | None) -> tuple[list[dict], str]:
    """(prompt, completion, tests, stop_tokens) rows and where they came from."""
    if (REAL / "problems.jsonl").is_file():
        problems = {}
        for line in (REAL / "problems.jsonl").read_text().splitlines():
            p = json.loads(line)
            problems[p["name"]] = p
        rows = []
        for line in (REAL / "generations.jsonl").read_text().splitlines():
            g = json.loads(line)
            p = problems[g["name"]]
            rows += [{"prompt": p["prompt"], "completion": c, "tests": p["tests"],
                      "stop_tokens": p["stop_tokens"]} for c in g["completions"]]
        origin = f"{len(rows)} real HumanEval-Lua completions ({REAL})"
    else:
        rng = random.Random(0)
        rows = []
        for _ in range(600):
            k = rng.randrange(5)
            tests = ("lu = require('luaunit')\n\nfunction test_humaneval()\nlocal candidate = f\n"
                     + "".join(f"    lu.assertEquals(candidate({j}), {j + k})\n" for j in range(5))
                     + "end\n\nos.exit(lu.LuaUnit.run())")
            rows.append({"prompt": "local function f(x)\n", "completion": f"  return x + {rng.randrange(5)}\nend\n",
                         "tests": tests, "stop_tokens": ["\nlocal", "\nfunction", "\n--", "\n\n"]})
        origin = "600 generated completions (no ../shared/data/eval/multipl_e_real)"
    return (rows[:limit] if limit else rows), origin


def markdown_answers(n: int) -> tuple[list[str], list[dict]]:
    rng = random.Random(1)
    api = [{"name": f"mod{m}.fn{f}"} for m in range(50) for f in range(10)]
    answers = []
    for i in range(n):
        calls = [f"mod{rng.randrange(50)}.fn{rng.randrange(14)}(x)" for _ in range(rng.randrange(1, 6))]
        answers.append(f"Here is how, using `mod{i % 50}.fn1`:\n\n```lua\nlocal x = {i}\n"
                       + "\n".join(calls) + "\n```\n\nThat is all.")
    return answers, api


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


exec_kinds: list = []


def rewards_per_second(rows: list[dict], answers: list[str], api: list[dict], workers: int) -> list[tuple]:
    from luacoder_core.lua import ApiIndex, check_syntax
    from luacoder_core.plugins import make_plugin_manager
    from luacoder_eval.execution import evaluate
    from luacoder_eval.metrics import ApiMatch
    from luacoder_eval.report_types import MarkdownReport

    registry = make_plugin_manager(only="train,eval").registries.rewards
    prompts = [r["prompt"] for r in rows]
    completions = [r["completion"] for r in rows]
    columns = {"tests": [r["tests"] for r in rows], "stop_tokens": [r["stop_tokens"] for r in rows]}
    out = []

    syntax = registry.get("lua_syntax").bind({}, {"report_type": "code"})
    ours = timed(lambda: syntax(prompts, completions, **columns), 3)
    base = timed(lambda: [check_syntax(p + c) for p, c in zip(prompts, completions)], 3)
    out.append(("lua_syntax", len(rows), ours, "check_syntax loop", base))

    with tempfile.TemporaryDirectory() as tmp:
        api_path = Path(tmp) / "api.jsonl"
        api_path.write_text("".join(json.dumps(r) + "\n" for r in api))
        grounded = registry.get("api_grounded").bind({}, {"report_type": "markdown",
                                                          "api_path": str(api_path)})
        ours = timed(lambda: grounded([""] * len(answers), answers), 3)
    report, index = MarkdownReport(), ApiIndex.from_records(api)
    base = timed(lambda: ApiMatch().compute(
        [{"output": a, "code": report.extract_code(a)} for a in answers], {"api": index}), 3)
    out.append(("api_grounded", len(answers), ours, "eval api_match metric", base))

    problems = {f"p{i}": {"name": f"p{i}", "prompt": r["prompt"], "tests": r["tests"],
                          "stop_tokens": r["stop_tokens"]} for i, r in enumerate(rows)}
    by_name = {f"p{i}": [r["completion"]] for i, r in enumerate(rows)}
    reports = []
    base = timed(lambda: reports.append(evaluate(problems, by_name, workers=workers, timeout=2.0)))
    exec_kinds.extend(r for p in reports[-1].problems for r in p.results)
    for grading, w in (("binary", 1), ("binary", workers), ("prefix", workers), ("share", workers)):
        tests = registry.get("lua_tests").bind(
            {"grading": grading, "workers": w, "cache_size": 0, "timeout": 2.0}, {"report_type": "code"})
        tests(prompts[:4], completions[:4], tests=columns["tests"][:4],
              stop_tokens=columns["stop_tokens"][:4])  # starts the sandbox server
        ours = timed(lambda t=tests: t(prompts, completions, **columns))
        out.append((f"lua_tests ({grading}, {w} worker{'s' if w > 1 else ''})", len(rows), ours,
                    f"eval exec path, {workers} workers", base))
    return out


def fork_cost(model_dir: Path | None, workers: int) -> tuple[float, float]:
    """Seconds for 16 programs: run_programs from this process after torch and a model are
    loaded, against the spawned sandbox server lua_tests uses."""
    from luacoder_eval.rewards import SandboxServer
    from luacoder_eval.sandbox import Limits, run_programs

    programs = [f"local function f() return {i} end\nassert(f() == {i})" for i in range(16)]
    import torch  # noqa: F401 - the point: a trainer's address space
    from transformers import AutoModelForCausalLM

    if model_dir is not None:
        AutoModelForCausalLM.from_pretrained(str(model_dir))
    run_programs(programs, Limits(), workers=workers)
    direct = timed(lambda: run_programs(programs, Limits(), workers=workers), 5)
    server = SandboxServer()
    server.run(programs, Limits(), workers)
    served = timed(lambda: server.run(programs, Limits(), workers), 5)
    server.close()
    return direct, served


def grpo_share(work: Path, steps: int, workers: int) -> tuple[list[tuple], Path]:
    spec = importlib.util.spec_from_file_location("run_toy", TOY)
    toy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toy)  # type: ignore[union-attr]
    luacoder = str(Path(sys.executable).with_name("luacoder"))
    code = toy.write_jsonl(work / "code.jsonl", toy.corpus(0))
    data = toy.write_jsonl(work / "problems.jsonl", toy.problems(0))
    quiet = {"stdout": subprocess.DEVNULL}
    subprocess.run([luacoder, "train", "init-model", str(work / "model"), "--corpus", str(code)],
                   check=True, **quiet)
    subprocess.run([luacoder, "train", "pretrain", str(toy.recipe(
        work / "pretrain.yaml", model_name_or_path=str(work / "model"), dataset=str(code),
        output_dir=str(work / "pretrained"), max_length=64, per_device_train_batch_size=16,
        learning_rate=5e-3, max_steps=150, save_strategy="no", training_curve=False, seed=0))],
        check=True, **quiet)
    rows = []
    for label, cache in (("cache on (default)", 4096), ("cache off", 0)):
        out = work / f"grpo-{cache}"
        subprocess.run([luacoder, "train", "grpo", str(toy.recipe(
            work / f"grpo-{cache}.yaml", model_name_or_path=str(work / "pretrained"),
            dataset=str(data), output_dir=str(out),
            rewards={"lua_tests": {"options": {"grading": "share", "workers": workers,
                                               "cache_size": cache}}, "lua_syntax": 0.2},
            num_generations=8, per_device_train_batch_size=16, max_completion_length=12,
            learning_rate=3e-4, max_steps=steps, save_strategy="no", training_curve=False,
            seed=0))], check=True, **quiet)
        history = json.loads((out / "trainer_state.json").read_text())["log_history"]
        logs = [e for e in history if "step_time" in e][1:]  # the first step starts the server
        reward = sum(e["task/reward_seconds"] for e in logs)
        step = sum(e["step_time"] for e in logs)
        programs = sum(e.get("task/sandbox_programs", 0) for e in logs)
        per_reward = {name: sum(e.get(f"task/reward_seconds/{name}", 0.0) for e in logs) / step
                      for name in ("lua_tests", "lua_syntax")}
        rows.append((label, len(logs), step / len(logs), reward / len(logs), reward / step,
                     programs / len(logs), per_reward))
    return rows, work / "pretrained"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    rows, origin = load_rows(300 if args.quick else None)
    answers, api = markdown_answers(500 if args.quick else 2000)
    speed = rewards_per_second(rows, answers, api, args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        share, model_dir = grpo_share(Path(tmp), 30 if args.quick else 100, args.workers)
        direct, served = fork_cost(model_dir, args.workers)

    print("## rewards (GRPO)\n")
    print(f"- {datetime.date.today().isoformat()}, {os.cpu_count()} cores; "
          f"`python benchmarks/bench_rewards.py{' --quick' if args.quick else ''}`; "
          f"lua_tests/lua_syntax inputs: {origin}; api_grounded: {len(answers)} generated markdown "
          f"answers, 500-name API\n")
    print("### Rewards per second (one call over the whole batch)\n")
    print("| reward | completions | seconds | rewards/s | baseline | baseline rewards/s | ratio |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for name, n, ours, base_name, base in speed:
        print(f"| {name} | {n} | {ours:.3f} | {n / ours:,.0f} | {base_name} | {n / base:,.0f} | "
              f"{base / ours:.2f}x |")
    print("\n### lua_tests: 16 programs forked from the trainer vs through the sandbox server\n")
    print("| where the workers fork from | seconds per batch |")
    print("| --- | ---: |")
    print(f"| the training process (torch + model loaded) | {direct:.4f} |")
    print(f"| lua_tests' spawned sandbox server | {served:.4f} ({direct / served:.1f}x faster) |")
    print("\n### Share of a GRPO step (tiny model, toy task, 16 completions per step)\n")
    print("| lua_tests verdict cache | steps | step s | all rewards s | all rewards share | "
          "lua_tests share | lua_syntax share | programs run per step |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, n, step, reward, ratio, programs, per in share:
        print(f"| {label} | {n} | {step:.3f} | {reward:.4f} | {ratio:.1%} | {per['lua_tests']:.1%} | "
              f"{per['lua_syntax']:.1%} | {programs:.1f} |")
    kinds = Counter(r.kind or "passed" for r in exec_kinds)
    print(f"\nVerdicts of the lua_tests batch: {dict(kinds)} (each timeout holds a worker for the "
          "2 s limit plus the guard's grace, which bounds the real set's throughput).")


if __name__ == "__main__":
    main()
