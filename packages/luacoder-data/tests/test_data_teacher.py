"""``api-chat --teacher``: a scripted teacher (a real HTTP server on loopback answering with
replies written here: good ones, invented API names, broken Lua, a failing test, no code, no
tasks, 429s and 500s) and, marked slow, ``luacoder eval serve`` on a tiny model as the teacher."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("httpx2", reason="--teacher needs luacoder-data[teacher]")

API = [
    {"name": "tween", "kind": "module", "description": "Tweening for Lua."},
    {"name": "tween.new", "kind": "function",
     "signature": "tween.new(duration, subject, target [, easing])",
     "description": "Creates a new tween that changes subject's fields towards target.",
     "params": [{"name": "duration", "type": "number"}, {"name": "subject", "type": "table"},
                {"name": "target", "type": "table"},
                {"name": "easing", "type": "function", "optional": True}],
     "returns": [{"type": "Tween", "description": "the new tween"}]},
    {"name": "tween.easing.linear", "kind": "function", "signature": "tween.easing.linear(t, b, c, d)",
     "description": "Linear easing."},
    {"name": "tween.easing.outQuad", "kind": "function",
     "signature": "tween.easing.outQuad(t, b, c, d)", "description": "Quadratic ease-out."},
    {"name": "Tween:update", "kind": "method", "signature": "Tween:update(dt)",
     "description": "Advances the tween by dt seconds; returns true when it is complete.",
     "params": [{"name": "dt", "type": "number"}]},
]

FENCE = "```"


def lua(code: str) -> str:
    return f"{FENCE}lua\n{code}\n{FENCE}"


#: the tasks the teacher gives for each unit (keyed by the names in the prompt)
TASKS = {
    "tween.new": "Here are some tasks:\n1. Move a sprite to x=100 over two seconds.\n"
                 "2. Fade a label's alpha to zero in half a second.\n",
    "tween.easing.linear": "- Compute the eased value halfway through a linear tween.\n"
                           "- Write a helper that clamps tween progress between 0 and 1.\n",
    "tween.easing.outQuad": lua("print(tween.easing.outQuad(0.5, 0, 1, 1))"),
    "Tween:update": "Task 1: Advance a tween by the frame time every frame.\n"
                    "Task 2: Tell whether a tween state table has finished.\n",
    "tween.easing.linear, tween.easing.outQuad":
        "1. Pick linear or outQuad easing from a settings string.\n",
}

#: task -> (answer, kept?)
ANSWERS = {
    "Move a sprite to x=100 over two seconds.": (
        "Create the tween once, then update it:\n\n"
        + lua("local sprite = {x = 0}\nlocal t = tween.new(2, sprite, {x = 100})\n"
              "function love.update(dt)\n  t:update(dt)\nend"), True),
    "Fade a label's alpha to zero in half a second.": (
        "Use `tween.fade`:\n\n" + lua("local label = {alpha = 1}\ntween.fade(label, 0.5)"), False),
    "Compute the eased value halfway through a linear tween.": (
        "Call the easing function directly:\n\n"
        + lua("local function halfway(b, c)\n  return tween.easing.linear(0.5, b, c, 1)\nend\n"
              "local function mid(b, c) return b + c / 2 end")
        + "\n\nA test:\n\n"
        + lua("local lu = require('luaunit')\nfunction test_mid()\n"
              "  lu.assertEquals(mid(0, 10), 5)\nend\nos.exit(lu.LuaUnit.run())"), True),
    "Write a helper that clamps tween progress between 0 and 1.": (
        lua("local function clamp(p)\n  if p < 0 then return 0 elseif p > 1 then return 1 end\n"
            "  return p\nend")
        + "\n\n" + lua("local lu = require('luaunit')\nfunction test_clamp()\n"
                       "  lu.assertEquals(clamp(2), 2)\nend\nos.exit(lu.LuaUnit.run())"), False),
    "Advance a tween by the frame time every frame.": (
        lua("function love.update(dt)\n  t:update(dt\nend"), False),
    "Tell whether a tween state table has finished.": (
        "Compare its clock with its duration:\n\n"
        + lua("local function finished(state)\n  return state.clock >= state.duration\nend")
        + "\n\n" + lua("assert(finished({clock = 2, duration = 1}))\n"
                       "assert(not finished({clock = 0, duration = 1}))"), True),
    "Pick linear or outQuad easing from a settings string.": (
        "Look the name up in the easing table and fall back to linear.", False),
}

REASONS = {
    "Fade a label's alpha to zero in half a second.": "undocumented API name(s): tween.fade",
    "Write a helper that clamps tween progress between 0 and 1.": "fails the teacher's test",
    "Advance a tween by the frame time every frame.": "does not compile",
    "Pick linear or outQuad easing from a settings string.": "no Lua code block",
}


class Teacher:
    """A scripted OpenAI-compatible endpoint on 127.0.0.1 that logs what it was asked."""

    def __init__(self, delay: float = 0.0, flaky: dict[str, list[int]] | None = None) -> None:
        self.delay = delay
        self.flaky = {k: list(v) for k, v in (flaky or {}).items()}
        self.requests: list[str] = []
        self.answered: list[str] = []
        self.lock = threading.Lock()
        teacher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, payload, key = teacher.reply(self.path, body, self.headers)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                try:
                    self.wfile.write(data)
                except BrokenPipeError:  # the client was killed (test_a_killed_run...)
                    return
                if status == 200:
                    with teacher.lock:
                        teacher.answered.append(key)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reply(self, path: str, body: dict, headers) -> tuple[int, dict, str]:
        user = body["messages"][-1]["content"]
        asked = re.search(r"A developer asks: (.+)", user)
        if asked:
            key = asked.group(1).strip()
        else:
            key = re.search(r"each one needing (.+?)\. Write each task", user, re.DOTALL).group(1)
        with self.lock:
            self.requests.append(key)
            plan = self.flaky.get(key)
            status = plan.pop(0) if plan else 200
        if path != "/v1/chat/completions" or body.get("model") != "teacher-1":
            return 404, {"error": {"message": "unknown model or path"}}, key
        if headers.get("Authorization") != "Bearer sk-test":
            return 401, {"error": {"message": "bad key"}}, key
        if status != 200:
            return status, {"error": {"message": f"scripted {status}"}}, key
        time.sleep(self.delay)
        text = ANSWERS.get(key, ("I do not know.", False))[0] if asked else TASKS[key]
        return 200, {"id": "x", "object": "chat.completion", "model": "teacher-1",
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": text}}]}, key


@pytest.fixture
def api_file(tmp_path):
    path = tmp_path / "api.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in API))
    return path


def teacher_args(teacher: Teacher, api_file: Path, out: Path, *extra: str) -> list[str]:
    return ["data", "convert", "api-chat", str(api_file), "-o", str(out),
            "--teacher", teacher.url, "--teacher-model", "teacher-1",
            "--teacher-api-key", "sk-test", "--teacher-tasks", "2", *extra]


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def lua_tests_installed() -> bool:
    from luacoder_core.plugins import make_plugin_manager

    return "lua_tests" in make_plugin_manager().registries.rewards


@pytest.mark.integration
def test_only_grounded_answers_are_kept(run, api_file, tmp_path):
    sandbox = lua_tests_installed()  # without luacoder-eval, the failing test cannot be run
    teacher = Teacher(flaky={"Move a sprite to x=100 over two seconds.": [429, 429],
                             "Tween:update": [500]})
    try:
        out = tmp_path / "chat.jsonl"
        result = run(*teacher_args(teacher, api_file, out), ok=True)
    finally:
        teacher.close()
    kept = {r["messages"][0]["content"]: r for r in read(out)}
    failing_test = "Write a helper that clamps tween progress between 0 and 1."
    expected = [task for task, (_, good) in ANSWERS.items() if good or
                (task == failing_test and not sandbox)]
    assert sorted(kept) == sorted(expected)
    for task, record in kept.items():
        assert record["messages"][1] == {"role": "assistant", "content": ANSWERS[task][0]}
        assert record["teacher"] == "teacher-1" and record["template"] == "teacher"
    verdict = "tests passed" if sandbox else "tests not run: no 'lua_tests' reward installed"
    for task in ("Compute the eased value halfway through a linear tween.",
                 "Tell whether a tween state table has finished."):
        assert kept[task]["checks"]["tests"].startswith(verdict)
    assert kept["Move a sprite to x=100 over two seconds."]["checks"]["tests"] == "no test"
    assert kept["Move a sprite to x=100 over two seconds."]["api"] == "tween.new"

    rejects = read(tmp_path / "chat.jsonl.rejects.jsonl")
    by_task = {r["record"].get("task"): r for r in rejects}
    for task, reason in REASONS.items():
        if task == failing_test and not sandbox:
            assert task not in by_task
            continue
        assert reason in by_task[task]["reason"], by_task[task]
    if sandbox:
        assert "lu.assertEquals(clamp(2), 2)" in by_task[failing_test]["record"]["test"]
    assert "line 3" in by_task["Advance a tween by the frame time every frame."]["reason"]
    no_tasks = [r for r in rejects if r["record"].get("api") == ["tween.easing.outQuad"]]
    assert len(no_tasks) == 1 and "no task we could read" in no_tasks[0]["reason"]
    assert len(rejects) == len(REASONS) + 1 - (not sandbox)
    # 429 twice and a 500: retried, answered; every request of the run: 5 units + 7 tasks + 3 retries
    assert teacher.requests.count("Move a sprite to x=100 over two seconds.") == 3
    assert teacher.requests.count("Tween:update") == 2
    assert len(teacher.requests) == 5 + 7 + 3
    assert "3 retried" in result.output


def test_rerun_is_answered_from_the_cache(run, api_file, tmp_path):
    teacher = Teacher(delay=0.25)
    out = tmp_path / "chat.jsonl"
    try:
        start = time.perf_counter()
        run(*teacher_args(teacher, api_file, out, "--no-teacher-tests"), ok=True)
        first = time.perf_counter() - start
        sent = len(teacher.requests)
        first_output = out.read_text()
        start = time.perf_counter()
        result = run(*teacher_args(teacher, api_file, out, "--no-teacher-tests"), ok=True)
        again = time.perf_counter() - start
    finally:
        teacher.close()
    assert sent == 12 and len(teacher.requests) == sent  # nothing sent the second time
    assert out.read_text() == first_output
    assert "12 answered from the cache" in result.output
    assert again * 5 < first, (first, again)
    cache = tmp_path / "chat.jsonl.teacher-cache"
    assert len(list(cache.rglob("*.json"))) == 12
    # without the sandbox the answers with tests are kept, and say their tests did not run
    tests = {r["messages"][0]["content"]: r["checks"]["tests"] for r in read(out)}
    assert "disabled" in tests["Write a helper that clamps tween progress between 0 and 1."]


def test_without_luacoder_eval_tests_are_not_run(run, api_file, tmp_path, monkeypatch):
    monkeypatch.setenv("LUACODER_LOAD_PLUGINS", "data")
    teacher = Teacher()
    try:
        out = tmp_path / "chat.jsonl"
        result = run(*teacher_args(teacher, api_file, out), ok=True)
    finally:
        teacher.close()
    tests = {r["messages"][0]["content"]: r["checks"]["tests"] for r in read(out)}
    assert "no 'lua_tests' reward installed" in tests["Compute the eased value halfway through a linear tween."]
    assert tests["Move a sprite to x=100 over two seconds."] == "no test"
    assert "tests not run" in result.output


def test_a_killed_run_keeps_what_it_paid_for(api_file, tmp_path):
    teacher = Teacher(delay=0.4)
    out = tmp_path / "chat.jsonl"
    args = [sys.executable, "-m", "luacoder_core", *teacher_args(teacher, api_file, out,
                                                                "--no-teacher-tests",
                                                                "--teacher-concurrency", "2")]
    env = {**os.environ, "LUACODER_LOAD_PLUGINS": "data"}
    try:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(teacher.answered) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        paid = list(teacher.answered)
        assert 6 <= len(paid) < 12 and not out.exists()
        before = len(teacher.requests)
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        resent = teacher.requests[before:]
    finally:
        teacher.close()
    time.sleep(0.5)  # the cache file of the answer in flight at the kill may be missing
    assert not set(resent) & set(paid[:-2])
    assert len(read(out)) == 4  # the three grounded answers and the one whose test was not run


def test_teacher_errors_are_named(run, api_file, tmp_path):
    result = run("data", "convert", "api-chat", str(api_file), "-o", str(tmp_path / "o.jsonl"),
                 "--teacher", "http://127.0.0.1:9/v1")
    assert result.exit_code == 2 and "--teacher-model" in result.output
    result = run("data", "convert", "api-chat", str(api_file), "-o", str(tmp_path / "o.jsonl"),
                 "--teacher", "ftp://x", "--teacher-model", "m")
    assert result.exit_code == 2 and "http" in result.output
    bad = tmp_path / "prompts.yaml"
    bad.write_text("answer: 'Solve {task} using {apis}'\n")
    result = run("data", "convert", "api-chat", str(api_file), "-o", str(tmp_path / "o.jsonl"),
                 "--teacher", "http://127.0.0.1:9/v1", "--teacher-model", "m",
                 "--teacher-prompts", str(bad))
    assert result.exit_code == 2 and "{apis}" in result.output and "prompts.yaml" in result.output
    result = run("data", "convert", "api-chat", str(api_file), "-o", str(tmp_path / "o.jsonl"),
                 "--teacher", "http://127.0.0.1:9/v1", "--teacher-model", "m", "--only", "x")
    assert result.exit_code == 2 and "--only" in result.output and "--teacher-prompts" in result.output
    teacher = Teacher()
    try:  # a wrong key is the request's fault: not retried, every unit rejected with the reason
        out = tmp_path / "o.jsonl"
        args = teacher_args(teacher, api_file, out)
        args[args.index("sk-test")] = "sk-wrong"
        result = run(*args)
    finally:
        teacher.close()
    rejects = read(tmp_path / "o.jsonl.rejects.jsonl")
    assert len(rejects) == 5 and all("HTTP 401: bad key" in r["reason"] for r in rejects)
    assert len(teacher.requests) == 5


def test_custom_prompts_reach_the_teacher(run, api_file, tmp_path):
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text("system: You are terse.\n")
    seen: list[dict] = []
    teacher = Teacher()
    original = teacher.reply

    def spy(path, body, headers):
        seen.append(body)
        return original(path, body, headers)

    teacher.reply = spy
    try:
        run(*teacher_args(teacher, api_file, tmp_path / "o.jsonl", "--teacher-prompts",
                          str(prompts), "--teacher-group-size", "0", "--no-teacher-tests"),
            ok=True)
    finally:
        teacher.close()
    assert all(b["messages"][0] == {"role": "system", "content": "You are terse."} for b in seen)
    assert len(seen) == 4 + 6  # four single records (no groups), then their six tasks
    assert all(b["temperature"] == 0.7 and b["seed"] == 0 for b in seen)


def test_free_text_task_lists():
    from luacoder_data.teacher import parse_tasks

    assert parse_tasks("Sure! Here are tasks:\n\n1) **Spawn an enemy** at a random spot.\n"
                       "2) Play a sound when the player jumps.\n", 5) == [
        "Spawn an enemy at a random spot.", "Play a sound when the player jumps."]
    assert parse_tasks("Make the camera follow the player smoothly.\n\n"
                       "Shake the screen when hit by a rocket.", 1) == [
        "Make the camera follow the player smoothly."]
    assert parse_tasks("```lua\n-- 1. not a task\n```\nOK", 3) == []


# ------------------------------------------------------------------------------------------------
# eval serve as the teacher (slow: a server process with a tiny random model)
# ------------------------------------------------------------------------------------------------

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def tiny_chat_model(path: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = ["local t = tween.new(1, obj, {x = 1})\n```lua\nt:update(dt)\n```\n1. Move it.\n"] * 8
    tok.train_from_iterator(corpus, trainer=trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|pad|>")
    fast.chat_template = CHATML
    fast.save_pretrained(path)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=2048, eos_token_id=fast.eos_token_id,
                         pad_token_id=fast.pad_token_id, bos_token_id=None)
    LlamaForCausalLM(config).save_pretrained(path)


@pytest.mark.slow
@pytest.mark.integration
def test_eval_serve_as_the_teacher(api_file, tmp_path):
    pytest.importorskip("luacoder_eval.serve.app", reason="needs luacoder-eval[serve]")
    model = tmp_path / "tiny"
    tiny_chat_model(model)
    log = tmp_path / "serve.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-m", "luacoder_core", "eval", "serve", str(model),
                               "--port", "0", "--threads", "1", "--served-model-name", "tiny",
                               "--log-level", "warning"], stdout=log.open("w"),
                              stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        url = None
        while url is None and time.monotonic() < deadline and server.poll() is None:
            found = re.search(r"OpenAI API at (http://[\d.]+:\d+/v1)", log.read_text())
            url = found.group(1) if found else None
            time.sleep(0.2)
        assert url, log.read_text()
        out = tmp_path / "chat.jsonl"
        done = subprocess.run([sys.executable, "-m", "luacoder_core", "data", "convert",
                               "api-chat", str(api_file), "-o", str(out), "--teacher", url,
                               "--teacher-model", "tiny", "--teacher-tasks", "2",
                               "--teacher-max-tokens", "48", "--teacher-concurrency", "8"],
                              capture_output=True, text=True, timeout=600, env=env)
    finally:
        server.terminate()
        server.wait(30)
    assert done.returncode in (0, 1), done.stderr  # 1: nothing written (all noise rejected)
    assert "api-chat: teacher tiny" in done.stderr
    rejects = read(tmp_path / "chat.jsonl.rejects.jsonl")
    assert rejects and all(r["reason"] for r in rejects)
    kept = read(out) if out.exists() else []
    reasons = " | ".join(r["reason"] for r in rejects)
    assert re.search(r"no task we could read|no Lua code block|undocumented|does not compile",
                     reasons)
    for record in kept:  # whatever survived the checks really is grounded
        assert record["checks"]["api"] == "documented"
    assert "teacher request failed" not in reasons  # the server answered every request


def test_teacher_options_in_a_pipeline(run, api_file, tmp_path):
    """The same converter options from ``luacoder run``: a convert stage with teacher options."""
    teacher = Teacher()
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(json.dumps({
        "name": "grow", "runs_dir": str(tmp_path / "runs"),
        "stages": {"chat": {"convert": "api-chat", "inputs": [str(api_file)],
                            "options": {"teacher": teacher.url, "teacher_model": "teacher-1",
                                        "teacher_api_key": "sk-test", "teacher_tasks": 2,
                                        "teacher_cache": str(tmp_path / "cache"),
                                        "no_teacher_tests": True}}}}))
    try:
        result = run("run", str(pipeline))
    finally:
        teacher.close()
    assert result.exit_code == 0, result.output
    outputs = list((tmp_path / "runs").rglob("chat.jsonl"))
    assert len(outputs) == 1
    assert len(read(outputs[0])) == 4
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 12
