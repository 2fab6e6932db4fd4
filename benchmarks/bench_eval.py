"""Benchmark of luacoder-eval: scoring throughput, sandboxed execution, batched generation.

    .venv/bin/python benchmarks/bench_eval.py [--quick]

Prints a markdown section to stdout. Each figure has its baseline measured in the same run:

1. ``score``: generations/s on 10k synthetic generations (code and markdown), against the time the
   tiny model takes to generate the same number of samples in a sweep (goal: scoring <= 5% of a
   sweep; the 0.14M-parameter tiny model is the fastest generator there is, so real models only
   lower the share);
2. ``exec``: programs/s on HumanEval-Lua (hand-written correct completions for a dozen problems,
   wrong ones for the rest) and on the 1,029 real completions of ``multipl_e_real``, sandboxed
   and parallel, against Debian's ``lua5.4`` as a fresh unsandboxed process per program, run
   sequentially with the real LuaUnit (the MultiPL-E way; goal: >= 2x); and the compute-heavy
   overhead: correct programs that run for a second, sandbox time / ``lua5.4`` time (goal <= 1.5x).
   ``--exec-only`` runs just this section;
3. generation: tokens/s of the tiny model one prompt at a time against batches of 16 with left
   padding (goal: >= 5x).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LUACODER_SHARED", ROOT.parent / "shared"))
HUMANEVAL = SHARED / "data" / "eval" / "humaneval_lua.jsonl"
SOLUTIONS = ROOT / "packages" / "luacoder-eval" / "tests" / "data" / "humaneval_solutions.jsonl"

for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                   "TOKENIZERS_PARALLELISM": "false", "DS_ACCELERATOR": "cpu"}.items():
    os.environ.setdefault(key, value)

API = [
    {"name": "tween.new", "kind": "function", "signature": "tween.new(duration, subject, target [, easing])"},
    {"name": "tween.easing.linear", "kind": "function", "params": [{"name": n} for n in "tbcd"]},
    {"name": "tween.easing.outQuad", "kind": "function", "params": [{"name": n} for n in "tbcd"]},
    {"name": "Tween:update", "kind": "method", "params": [{"name": "dt"}]},
    {"name": "tween.log", "kind": "function", "params": [{"name": "..."}]},
]

SNIPPETS = [
    "local t = tween.new(1, subject, {x = 10}, tween.easing.linear)\n",
    "local t = tween.new(2, box, {y = 5})\nt:update(0.1)\n",
    "local e = tween.easing.outQuad\nlocal t = tween.new(1, ball, {x = 1}, e)\n",
    "tween.fly(subject, 10)\nlocal t = tween.new(3, obj, {a = 1})\n",
    "local function move(o)\n  return tween.new(1, o, {x = 0})\nend\n",
    "for i = 1, 10 do\n  print(i)\nend\n",
    "local x = 1\nlocal y = x + 2\nreturn y\n",
    "tween.log('start', 1, 2)\n",
    "-- tween.comment is ignored\nlocal s = \"tween.string\"\n",
    "local t = tween.new(1, o, {x = 1}\n",  # cut off
]

LUAUNIT_SHIM = r"""
local M = {}
local function eq(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  if #a ~= #b then return false end
  for k, v in pairs(a) do if not eq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
function M.assertEquals(a, b) if not eq(a, b) then error("expected " .. tostring(b) .. ", got " .. tostring(a), 2) end end
function M.assertTrue(v) if v ~= true then error("expected true", 2) end end
function M.assertFalse(v) if v ~= false then error("expected false", 2) end end
M.LuaUnit = {}
function M.LuaUnit.run()
  local names = {}
  for k, v in pairs(_G) do
    if type(k) == "string" and k:lower():sub(1, 4) == "test" and type(v) == "function" then names[#names + 1] = k end
  end
  table.sort(names)
  local failed = 0
  for _, name in ipairs(names) do
    local ok = pcall(_G[name])
    if not ok then failed = failed + 1 end
  end
  return failed
end
return M
"""


def machine_line() -> str:
    from run_all import cpu_name  # benchmarks/ is on sys.path when a bench runs as a script

    cpu = cpu_name()
    return (f"Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; "
            f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}")


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


# ------------------------------------------------------------------------------------------------
# tiny model (the tests build the same one; the bench does not import the tests)
# ------------------------------------------------------------------------------------------------

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def tiny_model(path: Path):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1024, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"])
    tok.train_from_iterator(SNIPPETS * 8, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|pad|>")
    tokenizer.chat_template = CHATML
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, tie_word_embeddings=True,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    from luacoder_eval.models import ModelLoader

    loaded = ModelLoader().load(path)
    return loaded.model, loaded.tokenizer


# ------------------------------------------------------------------------------------------------
# 1. score
# ------------------------------------------------------------------------------------------------


def synthetic_generations(n: int, markdown: bool, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        body = "".join(rng.choice(SNIPPETS) for _ in range(rng.randint(2, 6)))
        if markdown:
            text = (f"You can use `tween.new` here:\n\n```lua\n{body}```\n\nThen call "
                    f"`tween.easing.linear` or `tween.jump{i % 7}`.\n")
        else:
            text = body
        samples.append({"prompt": f"p{i}", "output": text})
    return samples


def bench_score(pm, n: int, tmp: Path) -> dict:
    from luacoder_eval.api import load_api
    from luacoder_eval.scoring import api_context, get_report_type, score_samples

    api_file = tmp / "api.jsonl"
    api_file.write_text("".join(json.dumps(r) + "\n" for r in API))
    context = api_context(load_api(api_file))
    out = {}
    for name in ("code", "markdown"):
        samples = synthetic_generations(n, markdown=name == "markdown")
        seconds, values = timed(score_samples, pm, samples, get_report_type(pm, name), context)
        out[name] = (seconds, values)
    return out


# ------------------------------------------------------------------------------------------------
# 2. exec
# ------------------------------------------------------------------------------------------------


def exec_programs(reps: int) -> tuple[list[str], int]:
    from luacoder_eval.execution import build_program, load_problems

    problems = load_problems(HUMANEVAL)
    solved = {}
    for line in SOLUTIONS.read_text().splitlines():
        record = json.loads(line)
        solved[record["name"]] = record["completion"]
    programs = []
    for name, problem in problems.items():
        completion = solved.get(name, "    return nil\nend")
        programs.append(build_program(problem, completion))
    return programs * reps, len(solved) * reps


REAL_LUAUNIT = Path("/usr/share/lua/5.4/luaunit.lua")


def run_lua_processes(programs: list, tmp: Path) -> tuple[float, int]:
    """MultiPL-E's way: each program in a file, ``lua5.4 FILE`` as a fresh process, sequentially,
    with Debian's real LuaUnit (a minimal shim on LUA_PATH when lua-unit is not installed)."""
    env = dict(os.environ)
    if not REAL_LUAUNIT.is_file():
        lib = tmp / "lib"
        lib.mkdir(exist_ok=True)
        (lib / "luaunit.lua").write_text(LUAUNIT_SHIM)
        env["LUA_PATH"] = f"{lib}/?.lua;;"
    files = []
    for i, program in enumerate(programs):
        path = tmp / f"p{i}.lua"
        path.write_text(getattr(program, "source", program))
        files.append(path)
    passed = 0
    start = time.perf_counter()
    for path in files:
        try:
            done = subprocess.run(["lua5.4", str(path)], env=env, capture_output=True, timeout=15)
            passed += done.returncode == 0
        except subprocess.TimeoutExpired:
            pass
    return time.perf_counter() - start, passed


def real_completion_programs() -> list:
    """The 1,029 real model completions of ../shared/data/eval/multipl_e_real (honest programs,
    43% of them correct); empty when the shared data is absent."""
    from luacoder_eval.execution import build_program, load_problems, read_exec_generations

    folder = SHARED / "data" / "eval" / "multipl_e_real"
    if not folder.is_dir():
        return []
    problems = load_problems(folder / "problems.jsonl")
    completions = read_exec_generations(folder / "generations.jsonl", problems)
    return [build_program(problems[n], c) for n, texts in completions.items() for c in texts]


#: correct, compute-heavy programs (MultiPL-E shaped): the sandbox's cost over plain Lua
COMPUTE_HEAVY = {
    "arithmetic loop (4e7 iterations)": (
        "local function f(n)\n  local s = 0\n  for i = 1, n do s = s + (i % 7) * 2 end\n  return s\nend",
        "lu.assertEquals(candidate(40000000), 240000000)"),
    "recursion (fib 32, 7M calls)": (
        "local function f(n)\n  if n < 2 then return n end\n  return f(n - 1) + f(n - 2)\nend",
        "lu.assertEquals(candidate(32), 2178309)"),
    "tables and strings (sort 1e6, 3e5 concat)": (
        "local function f(n)\n  local t = {}\n  for i = 1, n do t[i] = (i * 7919) % 1000003 end\n"
        "  table.sort(t)\n  local parts = {}\n  for i = 1, 300000 do parts[#parts + 1] = tostring(i) end\n"
        "  return t[1], #table.concat(parts, ',')\nend",
        "local a, b = candidate(1000000)\n    lu.assertEquals(a, 1)\n    lu.assertEquals(b, 1988894)"),
}


def bench_compute(tmp: Path, reps: int) -> list[tuple[str, float, float | None, bool, float]]:
    """Best-of-``reps`` seconds of each compute-heavy program in the sandbox (one fresh runtime,
    in this process), in the sandbox with an instruction budget (a count hook from the start,
    the old way) and under ``lua5.4`` as a process with the real LuaUnit."""
    from luacoder_eval.sandbox import Limits, Program, run_program

    rows = []
    for label, (code, body) in COMPUTE_HEAVY.items():
        tests = ("lu = require('luaunit')\n\nfunction test_humaneval()\nlocal candidate = f\n    "
                 + body + "\nend\n\nos.exit(lu.LuaUnit.run())")
        program = Program.of(code, tests)
        best_sandbox = best_hooked = math.inf
        passed = True
        for _ in range(reps):
            start = time.perf_counter()
            result = run_program(program, Limits(timeout=60))
            best_sandbox = min(best_sandbox, time.perf_counter() - start)
            passed = passed and result.passed
            start = time.perf_counter()
            result = run_program(program, Limits(timeout=60, max_instructions=10**12))
            best_hooked = min(best_hooked, time.perf_counter() - start)
            passed = passed and result.passed
        best_lua = None
        if shutil.which("lua5.4"):
            path = tmp / "heavy.lua"
            path.write_text(program.source)
            best_lua = math.inf
            for _ in range(reps):
                start = time.perf_counter()
                done = subprocess.run(["lua5.4", str(path)], capture_output=True, timeout=120)
                best_lua = min(best_lua, time.perf_counter() - start)
                passed = passed and done.returncode == 0
        rows.append((label, best_sandbox, best_lua, passed, best_hooked))
    return rows


def exec_section(tmp: Path, exec_reps: int, compute_reps: int, with_real: bool = True) -> list[str]:
    from luacoder_eval.sandbox import Limits, run_programs

    workers = os.cpu_count() or 1
    programs, _ = exec_programs(exec_reps)
    sets = [(f"HumanEval-Lua, hand-written (161 problems x {exec_reps})", programs, Limits(), True)]
    real = real_completion_programs() if with_real else []
    if real:  # MultiPL-E's 15 s timeout on both sides: the looping completions dominate the time
        sets.append(("real model completions (multipl_e_real), timeout 15 s", real,
                     Limits(timeout=15.0), False))
    lua_available = shutil.which("lua5.4") is not None
    baseline = ("`lua5.4` + Debian's LuaUnit" if REAL_LUAUNIT.is_file() else
                "`lua5.4` + a minimal LuaUnit shim (lua-unit not installed)")
    lines = ["### Execution (`eval exec`)", "",
             f"Baseline: {baseline}, a fresh unsandboxed process per program, sequentially (MultiPL-E's "
             "way). Sandbox: Lua 5.4, default limits.", "",
             "| programs | runner | count | seconds | programs/s | passed | vs baseline |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for label, programs, limits, one_worker in sets:
        total = len(programs)
        base_rate = None
        if lua_available:
            lua_s, lua_pass = run_lua_processes(programs, tmp)
            base_rate = total / lua_s
            lines.append(f"| {label} | baseline | {total} | {lua_s:.2f} | {base_rate:,.0f} | {lua_pass} | 1.00x |")
        runs = []
        if one_worker:
            runs.append(("sandbox, 1 worker", *timed(run_programs, programs, limits, workers=1)))
        runs.append((f"sandbox, {workers} workers", *timed(run_programs, programs, limits, workers=workers)))
        for runner, seconds, results in runs:
            rate = total / seconds
            ratio = f"{rate / base_rate:.2f}x" if base_rate else "–"
            lines.append(f"| {label} | {runner} | {total} | {seconds:.2f} | {rate:,.0f} | "
                         f"{sum(r.passed for r in results)} | {ratio} |")
    lines += ["", f"Compute-heavy correct programs (best of {compute_reps}; the sandbox's time includes "
              "a fresh runtime, the harness and the verdict; `lua5.4`'s includes process start and "
              "loading LuaUnit):", "",
              "| program | `lua5.4` s | sandbox s | overhead (goal <= 1.5x) | with an instruction budget "
              "(count hook) s | its overhead | passed |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for label, sandbox_s, lua_s, passed, hooked_s in bench_compute(tmp, compute_reps):
        ratio = f"{sandbox_s / lua_s:.2f}x" if lua_s else "–"
        hooked_ratio = f"{hooked_s / lua_s:.2f}x" if lua_s else "–"
        lua_text = f"{lua_s:.3f}" if lua_s else "not installed"
        lines.append(f"| {label} | {lua_text} | {sandbox_s:.3f} | {ratio} | {hooked_s:.3f} | "
                     f"{hooked_ratio} | {passed} |")
    lines += ["", "Sandboxed = a fresh lupa runtime per program with the allowed-only environment, "
              "inside forked worker processes with RLIMIT_AS and a kill at the deadline. The main "
              "coroutine runs without a debug hook: a watchdog thread sets a count hook on it at the "
              "deadline (coroutines the program creates carry one from the start).", ""]
    return lines


# ------------------------------------------------------------------------------------------------
# 3. generation
# ------------------------------------------------------------------------------------------------


def bench_generation(model, tokenizer, prompts: list[str], new_tokens: int) -> dict:
    from luacoder_eval.textgen import GenSettings, generate

    settings = GenSettings(max_new_tokens=new_tokens, min_new_tokens=new_tokens, batch_size=16)
    generate(model, tokenizer, prompts[:2], settings)  # warm-up
    single_s = 0.0
    single_tokens = 0
    single_texts = []
    for p in prompts:
        out = generate(model, tokenizer, [p], settings)
        single_s += out.seconds
        single_tokens += out.new_tokens
        single_texts.append(out.texts[0])
    batched = generate(model, tokenizer, prompts, settings)
    return {"single": (single_s, single_tokens), "batched": (batched.seconds, batched.new_tokens),
            "same": sum(a == b for a, b in zip(single_texts, batched.texts))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (about a minute)")
    parser.add_argument("--exec-only", action="store_true",
                        help="only the execution section (sandbox vs lua5.4, compute-heavy overhead)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for generation (default 1: a 0.14M model gains nothing "
                             "from more, and OpenMP threads thrash on a shared 2-core box)")
    args = parser.parse_args()
    if args.exec_only:
        with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp_name:
            lines = ["## eval (execution)", "", machine_line() + f"; load average "
                     f"{os.getloadavg()[0]:.1f} at start", ""]
            lines += exec_section(Path(tmp_name), 1 if args.quick else 3, 2 if args.quick else 3,
                                  with_real=not args.quick)
        print("\n".join(lines))
        return
    import torch

    torch.set_num_threads(args.threads)
    n_score = 2_000 if args.quick else 10_000
    exec_reps = 1 if args.quick else 3
    gen_prompts = 16
    gen_tokens = 32 if args.quick else 64

    from luacoder_core.plugins import make_plugin_manager

    pm = make_plugin_manager()
    lines = ["## eval", "", machine_line() + f"; torch threads {args.threads}; load average "
             f"{os.getloadavg()[0]:.1f} at start", ""]
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp_name:
        tmp = Path(tmp_name)

        # 3 first: the tiny model also gives the sweep generation time that scoring is compared to
        model, tokenizer = tiny_model(tmp / "tiny")
        prompts = [s.split("\n")[0][: 8 + i] for i, s in enumerate(SNIPPETS * 2)][:gen_prompts]
        gen = bench_generation(model, tokenizer, prompts, gen_tokens)

        # a sweep's generation for n_score samples at the tiny model's batched speed
        from luacoder_eval.textgen import GenSettings, generate

        sweep_prompts = [s.split("\n")[0][:10] for s in SNIPPETS] * 13  # 130 prompts
        sweep_settings = GenSettings(max_new_tokens=128, batch_size=16)
        sweep_out = generate(model, tokenizer, sweep_prompts, sweep_settings)
        gen_per_sample = sweep_out.seconds / len(sweep_prompts)

        score = bench_score(pm, n_score, tmp)

        exec_lines = exec_section(tmp, exec_reps, 2 if args.quick else 3, with_real=not args.quick)

    lines += ["### Scoring (`eval score`)", "",
              f"{n_score:,} synthetic generations of 2-6 Lua snippets each (`tween` API, some "
              "undocumented names, comments, strings, cut-off code); api_match + syntax + arity. "
              f"Sweep generation time: the tiny model (0.14M params) generating 128 new tokens "
              f"for {len(sweep_prompts)} prompts in batches of 16 "
              f"({gen_per_sample * 1000:.1f} ms per sample).", "",
              "| report type | generations | seconds | generations/s | scoring share of a sweep (tiny model) |",
              "| --- | --- | --- | --- | --- |"]
    for name, (seconds, _values) in score.items():
        per = seconds / n_score
        share = per / (per + gen_per_sample)
        lines.append(f"| {name} | {n_score:,} | {seconds:.2f} | {n_score / seconds:,.0f} | {share:.1%} |")
    lines += ["", "The share is an upper bound: any real model generates far slower than the "
              "0.14M-parameter tiny one, while scoring costs the same.", ""]

    lines += exec_lines

    (single_s, single_tokens), (batched_s, batched_tokens) = gen["single"], gen["batched"]
    single_rate = single_tokens / single_s
    batched_rate = batched_tokens / batched_s
    lines += ["### Generation (tiny model, transformers, greedy)", "",
              f"{gen_prompts} prompts x {gen_tokens} new tokens; batched outputs equal one-by-one "
              f"for {gen['same']}/{gen_prompts} prompts.", "",
              "| mode | tokens | seconds | tokens/s | speed-up |", "| --- | --- | --- | --- | --- |",
              f"| baseline: one prompt at a time | {single_tokens} | {single_s:.2f} | {single_rate:,.0f} | 1.0x |",
              f"| batched, 16 at once, left padding | {batched_tokens} | {batched_s:.2f} | "
              f"{batched_rate:,.0f} | {batched_rate / single_rate:.1f}x |", ""]
    print("\n".join(lines))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
