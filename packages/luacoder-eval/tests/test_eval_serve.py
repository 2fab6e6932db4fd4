"""``luacoder eval serve`` against the ``openai`` client: a live server on 127.0.0.1 (started
through the CLI in a subprocess) serving the tiny model, checked the way a user's client sees it:
models, chat and text completions, streaming, n, stop, seed, batching, bad requests, the API key
and a client that walks away mid-stream."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

openai = pytest.importorskip("openai", reason="the openai client is in luacoder-eval[test]")
pytest.importorskip("fastapi", reason="eval serve needs luacoder-eval[serve]")
pytest.importorskip("uvicorn", reason="eval serve needs luacoder-eval[serve]")

KEY = "test-key-13"
PROMPTS = ["local t = tween.new(", "for i = 1, 10 do\n", "local x = 1\n", "tween.log('start'"]


def start_server(model: Path, log: Path, *args: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    env.pop("LUACODER_API_KEY", None)
    handle = log.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "luacoder_core", "eval", "serve", str(model),
                             "--port", "0", "--threads", "1", "--log-level", "warning", *args],
                            stdout=handle, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"OpenAI API at (http://[\d.]+:\d+/v1)", log.read_text())
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"server did not start:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tiny_base, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "server.log"
    proc, url = start_server(tiny_base, log, "--api-key", KEY, "--served-model-name", "tiny",
                             "--max-batch", "8", "--max-model-len", "256")
    yield url, log
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server[0], api_key=KEY, max_retries=0, timeout=60)


def raw(url: str, body: str | None = None, key: str | None = KEY) -> tuple[int, dict]:
    """A plain HTTP request (no client library smoothing over what the server sends)."""
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=None if body is None else body.encode(),
                                     headers=headers, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def health(server) -> dict:
    return raw(server[0].removesuffix("/v1") + "/health", key=None)[1]


@pytest.fixture(scope="module")
def offline(tiny_base):
    """Greedy continuations from the plain ``model.generate`` (the sweep's generation)."""
    from luacoder_eval.models import ModelLoader
    from luacoder_eval.textgen import GenSettings, generate

    loaded = ModelLoader().load(str(tiny_base))
    settings = GenSettings(max_new_tokens=24, min_new_tokens=24, batch_size=1)
    out = generate(loaded.model, loaded.tokenizer, PROMPTS, settings)
    return {p: texts[0] for p, texts in zip(PROMPTS, out.texts)}


def test_models_and_a_chat_answer(client, server):
    assert [m.id for m in client.models.list().data] == ["tiny"]
    assert client.models.retrieve("tiny").id == "tiny"
    reply = client.chat.completions.create(
        model="tiny", messages=[{"role": "system", "content": "You write Lua."},
                                {"role": "user", "content": "How do I create a tween?"}],
        max_tokens=12, temperature=0)
    choice = reply.choices[0]
    assert reply.object == "chat.completion" and choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert 0 < reply.usage.prompt_tokens and reply.usage.completion_tokens <= 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_greedy_completion_equals_offline_generation(client, offline):
    for prompt in PROMPTS:
        reply = client.completions.create(model="tiny", prompt=prompt, max_tokens=24,
                                          temperature=0, extra_body={"ignore_eos": True})
        assert reply.choices[0].text == offline[prompt]
        assert reply.choices[0].finish_reason == "length"
        assert reply.usage.completion_tokens == 24
    several = client.completions.create(model="tiny", prompt=PROMPTS[:3], max_tokens=24,
                                        temperature=0, extra_body={"ignore_eos": True})
    assert [c.index for c in several.choices] == [0, 1, 2]
    assert [c.text for c in several.choices] == [offline[p] for p in PROMPTS[:3]]
    assert several.usage.completion_tokens == 72


def test_concurrent_clients_are_batched_and_get_the_same_text(client, server, offline):
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        try:
            prompt = PROMPTS[i % len(PROMPTS)]
            reply = client.completions.create(model="tiny", prompt=prompt, max_tokens=24,
                                              temperature=0, extra_body={"ignore_eos": True})
            results[i] = reply.choices[0].text
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(results[i] == offline[PROMPTS[i % len(PROMPTS)]] for i in range(8))
    assert health(server)["max_rows"] > 1  # some of them really shared a batch


def test_stream_chat_matches_the_whole_answer(client):
    messages = [{"role": "user", "content": "How do I ease?"}]
    whole = client.chat.completions.create(model="tiny", messages=messages, max_tokens=20,
                                           temperature=0, extra_body={"ignore_eos": True})
    stream = client.chat.completions.create(model="tiny", messages=messages, max_tokens=20,
                                            temperature=0, stream=True,
                                            stream_options={"include_usage": True},
                                            extra_body={"ignore_eos": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 20 and not chunks[-1].choices
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 3


def test_n_choices_are_seeded_and_differ(client):
    kwargs = dict(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=16,
                  temperature=1.0, n=3, seed=7, extra_body={"ignore_eos": True})
    first = client.chat.completions.create(**kwargs)
    again = client.chat.completions.create(**kwargs)
    texts = [c.message.content for c in first.choices]
    assert [c.index for c in first.choices] == [0, 1, 2]
    assert texts == [c.message.content for c in again.choices]  # same seed, same answers
    assert len(set(texts)) > 1
    other = client.chat.completions.create(**{**kwargs, "seed": 8})
    assert [c.message.content for c in other.choices] != texts
    streamed = client.completions.create(model="tiny", prompt="local x", max_tokens=6, n=2,
                                         temperature=0.8, seed=1, stream=True)
    by_index: dict[int, str] = {}
    for chunk in streamed:
        for choice in chunk.choices:
            by_index[choice.index] = by_index.get(choice.index, "") + choice.text
    assert sorted(by_index) == [0, 1]


def test_stop_strings_cut_the_answer(client, offline):
    prompt = PROMPTS[0]
    full = offline[prompt]
    stop = full[5:8]
    assert stop and stop in full
    expected = full[: full.find(stop)]
    reply = client.completions.create(model="tiny", prompt=prompt, max_tokens=24, temperature=0,
                                      stop=[stop, "never-seen-stop"],
                                      extra_body={"ignore_eos": True})
    assert reply.choices[0].text == expected
    assert reply.choices[0].finish_reason == "stop"
    stream = client.completions.create(model="tiny", prompt=prompt, max_tokens=24, temperature=0,
                                       stop=stop, stream=True, extra_body={"ignore_eos": True})
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_bad_requests_get_openai_errors_and_the_server_lives(client, server):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 404
    assert err.value.body["code"] == "model_not_found" and err.value.body["param"] == "model"

    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "x"}],
                                       temperature="hot")
    assert err.value.body["param"] == "temperature"

    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "x"}],
                                       max_tokens=10_000)
    assert err.value.body["code"] == "context_length_exceeded"
    assert "256" in err.value.body["message"]

    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model="tiny", prompt="x" * 2000, max_tokens=4)
    assert err.value.body["code"] == "context_length_exceeded"

    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="tiny", messages=[{"role": "wizard", "content": "x"}])
    assert err.value.body["param"] == "messages[0].role"

    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model="tiny", prompt="x", logprobs=2)
    assert err.value.body["param"] == "logprobs"

    url = server[0] + "/chat/completions"
    for body, code in (('{"model": "tiny", "messages": [', "json_invalid"),
                       ("[1, 2]", "invalid_request"),
                       ('{"model": "tiny"}', "missing_required_parameter"),
                       ('{"model": "tiny", "messages": [], "n": 1}', "invalid_value"),
                       ('{"model": "tiny", "messages": [{"role": "user", "content": "x"}], '
                        '"n": "2"}', "invalid_value")):
        status, answer = raw(url, body)
        assert status == 400, body
        error = answer["error"]
        assert error["code"] == code and error["type"] == "invalid_request_error" and error["message"]
    status, answer = raw(server[0] + "/nowhere", "{}")
    assert status == 404 and "error" in answer
    reply = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "x"}],
                                           max_tokens=2)
    assert reply.choices[0].message is not None
    assert health(server)["failed"] == 0


def test_api_key_is_required(server):
    wrong = openai.OpenAI(base_url=server[0], api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        wrong.models.list()
    assert err.value.status_code == 401 and err.value.body["code"] == "invalid_api_key"
    status, answer = raw(server[0] + "/completions", '{"model": "tiny", "prompt": "x"}', key=None)
    assert status == 401 and answer["error"]["code"] == "invalid_api_key"
    assert health(server)["status"] == "ok"  # health needs no key


def test_a_client_that_leaves_mid_stream_frees_its_slot(client, server):
    before = health(server)
    stream = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "x"}],
                                            max_tokens=200, temperature=0, stream=True,
                                            extra_body={"ignore_eos": True})
    got = 0
    for _chunk in stream:
        got += 1
        if got == 4:
            break
    stream.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = health(server)
        if now["cancelled"] > before["cancelled"] and now["running"] == 0:
            break
        time.sleep(0.05)
    assert now["cancelled"] == before["cancelled"] + 1
    assert now["finished"] == before["finished"]
    assert now["running"] == 0
    assert now["tokens"] - before["tokens"] < 200  # it stopped before max_tokens
    # the server goes on serving
    reply = client.completions.create(model="tiny", prompt="local", max_tokens=3)
    assert reply.choices[0].finish_reason in ("stop", "length")


# ------------------------------------------------------------------------------------------------
# Without a live server: the model folder, the CLI's errors, the vLLM backend, adapters
# ------------------------------------------------------------------------------------------------


def test_a_sweep_folder_serves_its_best_checkpoint(tmp_path, tiny_base):
    from luacoder_eval.serve.server import resolve_model_dir

    sweep = tmp_path / "eval"
    sweep.mkdir()
    rows = [{"checkpoint": "checkpoint-20", "path": "/nowhere/20", "api_match_accuracy": 0.2},
            {"checkpoint": "checkpoint-60", "path": str(tiny_base), "api_match_accuracy": 0.75}]
    (sweep / "results.json").write_text(json.dumps({"metric": "api_match_accuracy",
                                                    "best": "checkpoint-60", "rows": rows}))
    path, note = resolve_model_dir(str(sweep))
    assert path == str(tiny_base)
    assert "checkpoint-60" in note and "0.7500" in note
    assert resolve_model_dir(str(tiny_base)) == (str(tiny_base), None)


def test_serve_errors_exit_2_with_the_reason(invoke, tmp_path, tiny_base):
    sweep = tmp_path / "eval"
    sweep.mkdir()
    (sweep / "results.json").write_text(json.dumps({"metric": "pass@1", "best": None, "rows": []}))
    result = invoke("eval", "serve", sweep)
    assert result.exit_code == 2 and "no best checkpoint" in result.output
    half = tmp_path / "half"
    half.mkdir()
    (half / "config.json").write_text("{}")
    result = invoke("eval", "serve", half, "--backend", "transformers")
    assert result.exit_code == 2 and "no model weights" in result.output
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        result = invoke("eval", "serve", tiny_base, "--port", taken.getsockname()[1],
                        "--backend", "transformers")
    finally:
        taken.close()
    assert result.exit_code == 2 and "cannot listen" in result.output


def test_vllm_backend_is_named_when_missing(invoke, tiny_base, tmp_path):
    from luacoder_eval.serve.server import ServeOptions, vllm_command, vllm_installed

    if vllm_installed():  # pragma: no cover - not on CPU machines
        pytest.skip("vLLM is installed here")
    result = invoke("eval", "serve", tiny_base, "--backend", "vllm")
    assert result.exit_code == 2 and "vLLM" in result.output and "not installed" in result.output
    argv = vllm_command(str(tmp_path / "adapter"), "mine", ServeOptions(api_key="k", port=9000),
                        base_model="base/model")
    assert argv[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert argv[argv.index("--model") + 1] == "base/model"
    assert argv[argv.index("--lora-modules") + 1] == f"mine={tmp_path / 'adapter'}"
    assert argv[argv.index("--api-key") + 1] == "k" and argv[argv.index("--port") + 1] == "9000"


def test_engine_serves_an_adapter_like_generate(tmp_path, tiny_base):
    """A PEFT adapter (what ModelLoader gives for an adapter folder) through the engine, with
    requests arriving while others run: the same greedy text as ``model.generate``."""
    import torch
    from luacoder_eval.models import ModelLoader
    from luacoder_eval.serve.engine import Engine, Request, SamplingParams
    from luacoder_eval.textgen import GenSettings, generate
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"]))
    with torch.no_grad():
        gen = torch.Generator().manual_seed(3)
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
    peft_model.save_pretrained(tmp_path / "adapter")
    loaded = ModelLoader(str(tiny_base)).load(tmp_path / "adapter")
    assert loaded.adapter
    expected = {n: generate(loaded.model, loaded.tokenizer, PROMPTS,
                            GenSettings(max_new_tokens=n, min_new_tokens=n, batch_size=1)).texts
                for n in (16, 11)}
    engine = Engine(loaded.model, loaded.tokenizer, max_batch=3, batch_wait_s=0)
    results: dict[int, str] = {}
    done = threading.Semaphore(0)

    def submit(i: int) -> None:
        parts: list[str] = []

        def sink(event) -> None:
            if event.kind == "delta":
                parts.append(event.text)
            else:
                results[i] = "".join(parts) if event.kind == "finish" else f"error {event.text}"
                done.release()

        ids = loaded.tokenizer(PROMPTS[i % 4])["input_ids"]
        params = SamplingParams(max_tokens=16 if i % 2 else 11, temperature=0, ignore_eos=True)
        engine.submit(Request(ids, params, 1, sink))

    for i in range(8):  # queued before the engine starts: 3 rows, the rest join as slots free
        submit(i)
    engine.start()
    try:
        for _ in range(8):
            assert done.acquire(timeout=60)
    finally:
        engine.stop()
    assert [results[i] for i in range(8)] == [expected[16 if i % 2 else 11][i % 4][0]
                                              for i in range(8)]
    stats = engine.load()
    assert engine.joinable is True and stats["max_rows"] == 3 and stats["joined"] > 0
