"""GRPO on a toy task a tiny CPU model learns in a few hundred steps; prints the numbers.

Eight MultiPL-E-style problems (``local function alpha()`` ...) each want one constant, checked by
a LuaUnit test in the sandbox. A tiny random model is first pretrained on the same function
shapes returning *random* digits, so it writes valid Lua but guesses the constant (about 1 in 10).
GRPO with ``lua_tests`` (and a small ``lua_syntax`` term) then has to find each problem's answer.
The script reports the mean reward of the first and the last 20% of the GRPO steps.

    python examples/grpo-toy/run_toy.py [--steps 200] [--seed 0] [--out /tmp/grpo-toy]

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


def problems(seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for name in NAMES:
        answer = rng.randrange(10)
        tests = ("lu = require('luaunit')\n\nfunction test_humaneval()\n"
                 f"local candidate = {name}\n    lu.assertEquals(candidate(), {answer})\nend\n\n"
                 "os.exit(lu.LuaUnit.run())")
        out.append({"name": name, "prompt": f"local function {name}()\n", "tests": tests,
                    "stop_tokens": STOPS, "answer": answer})
    return out


def corpus(seed: int, copies: int = 40) -> list[dict]:
    """The function shapes with random digits: the model learns the form, not the answers."""
    rng = random.Random(seed + 1)
    return [{"content": f"local function {name}()\nreturn {rng.randrange(10)}\nend\n"}
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
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="/tmp/grpo-toy")
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers for lua_tests")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
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
    if not (out / "model" / "config.json").exists():
        luacoder("train", "init-model", str(out / "model"), "--corpus", str(code), "--seed", str(args.seed))
    if not (out / "pretrained" / "luacoder.json").exists():
        luacoder("train", "pretrain", str(recipe(
            out / "pretrain.yaml", model_name_or_path=str(out / "model"), dataset=str(code),
            output_dir=str(out / "pretrained"), max_length=64, per_device_train_batch_size=16,
            learning_rate=5e-3, max_steps=150, save_strategy="no", training_curve=False,
            seed=args.seed)))
    pretrain_seconds = time.perf_counter() - start

    grpo_dir = out / f"grpo-seed{args.seed}"
    shutil.rmtree(grpo_dir, ignore_errors=True)  # a fresh run, not a resume
    luacoder("train", "grpo", str(recipe(
        out / "grpo.yaml", model_name_or_path=str(out / "pretrained"), dataset=str(data),
        output_dir=str(grpo_dir),
        rewards={"lua_tests": {"weight": 1.0, "options": {"grading": "binary", "workers": args.workers,
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
    reward_time = [e.get("task/reward_seconds", 0.0) for e in history if "reward" in e]
    result = {"seed": args.seed, "steps": len(rewards), "first_20pct_reward": round(first, 4),
              "last_20pct_reward": round(last, 4), "first_20pct_lua_tests": round(first_tests, 4),
              "last_20pct_lua_tests": round(last_tests, 4),
              "mean_reward_seconds_per_step": round(sum(reward_time) / max(len(reward_time), 1), 4),
              "grpo_seconds": round(seconds - pretrain_seconds, 1), "total_seconds": round(seconds, 1)}
    print(json.dumps(result, indent=2))
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
