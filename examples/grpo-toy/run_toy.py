"""GRPO on a toy task a tiny CPU model learns in a few hundred steps; prints the numbers.

Eight MultiPL-E-style problems (``local function alpha(x)`` ...) whose LuaUnit tests, run in the
sandbox, all want twice the argument. A tiny random model is first pretrained on the same
functions returning one of ten expressions at random (``x + 1``, ``x * x``, ``x + x``...), so it
writes valid Lua but picks the expression by chance (two of ten are right). GRPO with
``lua_tests`` (share of the four assertions passed) and a small ``lua_syntax`` term has to find
the one the tests reward. The script reports the mean reward of the first and the last 20% of the
GRPO steps.

    python examples/grpo-toy/run_toy.py [--steps 300] [--seed 0] [--out /tmp/grpo-toy]

Bounded: about 2-4 minutes on 2 CPU cores. Needs luacoder-train and luacoder-eval installed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

NAMES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
STOPS = ["\nlocal", "\nfunction", "\n--", "\n\n"]
EXPRESSIONS = ["x + 1", "x - 1", "x * 3", "x", "2", "x + x", "x * 2", "x / 2", "x * x", "0"]


def problems(seed: int) -> list[dict]:
    """Eight functions of one argument whose tests all want twice the argument."""
    out = []
    for name in NAMES:
        checks = "".join(f"    lu.assertEquals(candidate({x}), {2 * x})\n" for x in (0, 1, 3, 5))
        tests = ("lu = require('luaunit')\n\nfunction test_humaneval()\n"
                 f"local candidate = {name}\n{checks}end\n\nos.exit(lu.LuaUnit.run())")
        out.append({"name": name, "prompt": f"local function {name}(x)\n", "tests": tests,
                    "stop_tokens": STOPS})
    random.Random(seed).shuffle(out)
    return out


def corpus(seed: int, copies: int = 40) -> list[dict]:
    """The same functions returning one of ten expressions at random (two of them right): the
    model learns the form, not which expression the tests want."""
    rng = random.Random(seed + 1)
    return [{"content": f"local function {name}(x)\nreturn {rng.choice(EXPRESSIONS)}\nend\n"}
            for _ in range(copies) for name in NAMES]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def luacoder(*args: str) -> None:
    exe = Path(sys.executable).with_name("luacoder")
    subprocess.run([str(exe), *args], check=True)


def recipe(path: Path, **keys) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(keys, sort_keys=False), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="/tmp/grpo-toy")
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers for lua_tests")
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--generations", type=int, default=8, help="completions per prompt")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    code = write_jsonl(out / "code.jsonl", corpus(args.seed))
    data = write_jsonl(out / "problems.jsonl", problems(args.seed))
    model, pretrained = out / f"model-seed{args.seed}", out / f"pretrained-seed{args.seed}"
    if not (model / "config.json").exists():
        luacoder("train", "init-model", str(model), "--corpus", str(code), "--seed", str(args.seed))
    if not (pretrained / "luacoder.json").exists():
        luacoder("train", "pretrain", str(recipe(
            out / "pretrain.yaml", model_name_or_path=str(model), dataset=str(code),
            output_dir=str(pretrained), max_length=64, per_device_train_batch_size=16,
            learning_rate=5e-3, max_steps=150, save_strategy="no", training_curve=False,
            seed=args.seed)))
    pretrain_seconds = time.perf_counter() - start

    grpo_dir = out / f"grpo-seed{args.seed}"
    shutil.rmtree(grpo_dir, ignore_errors=True)  # a fresh run, not a resume
    luacoder("train", "grpo", str(recipe(
        out / "grpo.yaml", model_name_or_path=str(pretrained), dataset=str(data),
        output_dir=str(grpo_dir),
        rewards={"lua_tests": {"weight": 1.0, "options": {"grading": "share", "workers": args.workers,
                                                          "timeout": 1.0}},
                 "lua_syntax": {"weight": 0.2}},
        num_generations=args.generations, per_device_train_batch_size=2 * args.generations,
        max_completion_length=12,
        temperature=args.temperature, beta=0.0, learning_rate=args.learning_rate, max_steps=args.steps, save_steps=args.steps,
        seed=args.seed)))
    seconds = time.perf_counter() - start

    history = json.loads((grpo_dir / "trainer_state.json").read_text())["log_history"]
    rewards = [e["reward"] for e in history if "reward" in e and "train_runtime" not in e]
    passed = [e.get("rewards/lua_tests/mean") for e in history if "reward" in e]
    k = max(1, len(rewards) // 5)
    first, last = sum(rewards[:k]) / k, sum(rewards[-k:]) / k
    first_tests = sum(passed[:k]) / k
    last_tests = sum(passed[-k:]) / k
    pass_rate = [e.get("task/pass_rate", 0.0) for e in history if "reward" in e]
    reward_time = [e.get("task/reward_seconds", 0.0) for e in history if "reward" in e]
    result = {"seed": args.seed, "steps": len(rewards), "first_20pct_reward": round(first, 4),
              "last_20pct_reward": round(last, 4), "first_20pct_lua_tests": round(first_tests, 4),
              "last_20pct_lua_tests": round(last_tests, 4),
              "first_20pct_pass_rate": round(sum(pass_rate[:k]) / k, 4),
              "last_20pct_pass_rate": round(sum(pass_rate[-k:]) / k, 4),
              "first_10_steps_reward": round(sum(rewards[:10]) / min(10, len(rewards)), 4),
              "learning_rate": args.learning_rate,
              "mean_reward_seconds_per_step": round(sum(reward_time) / max(len(reward_time), 1), 4),
              "grpo_seconds": round(seconds - pretrain_seconds, 1), "total_seconds": round(seconds, 1)}
    print(json.dumps(result, indent=2))
    (out / f"result-seed{args.seed}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
