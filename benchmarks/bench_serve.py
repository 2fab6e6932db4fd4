"""Benchmark of ``luacoder eval serve``: throughput with 1 and 8 concurrent clients, time to
first token, and a bounded load run with malformed and cancelled requests.

    .venv/bin/python benchmarks/bench_serve.py [--quick]

Prints a markdown section to stdout. The server is the real CLI (``luacoder eval serve``) in its
own process, one torch thread, serving the tiny model (0.14M parameters, as in bench_eval);
clients are threads of this process speaking plain HTTP (urllib), streaming, greedy, with
``ignore_eos`` so every request generates exactly ``max_tokens`` tokens. The baseline is one
client in the same run (goal: >= 4x the tokens/s with 8 clients).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                   "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(key, value)

PROMPTS = ["local t = tween.new(", "for i = 1, 10 do\n", "local x = 1\n", "tween.log('start'",
           "local function move(o)\n", "local e = tween.easing.outQuad\n"]


def start_server(model: Path, log: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "luacoder_core", "eval", "serve", str(model),
                             "--port", "0", "--threads", "1", "--max-batch", "16",
                             "--served-model-name", "tiny", "--log-level", "warning"],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = re.search(r"OpenAI API at (http://[\d.]+:\d+)/v1", log.read_text())
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    sys.exit(f"server did not start:\n{log.read_text()}")


def post(url: str, body: bytes, timeout: float = 120):
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(request, timeout=timeout)


def stream_request(base: str, payload: dict, *, stop_after: int | None = None) -> dict:
    """One streaming request: time to first text, tokens (text chunks), finish reason; with
    ``stop_after`` the client closes the connection after that many text chunks."""
    start = time.perf_counter()
    first = None
    chunks = 0
    finish = None
    path = "/v1/chat/completions" if "messages" in payload else "/v1/completions"
    with post(base + path, json.dumps({**payload, "stream": True}).encode()) as response:
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if "error" in event:
                return {"error": event["error"]["message"]}
            for choice in event["choices"]:
                text = choice.get("text") if "text" in choice else choice.get("delta", {}).get("content")
                if text:
                    chunks += 1
                    if first is None:
                        first = time.perf_counter() - start
                finish = choice.get("finish_reason") or finish
            if stop_after is not None and chunks >= stop_after:
                break
    return {"ttft": first, "chunks": chunks, "finish": finish,
            "seconds": time.perf_counter() - start}


def throughput(base: str, clients: int, per_client: int, max_tokens: int) -> dict:
    results: list[dict] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        for r in range(per_client):
            prompt = PROMPTS[(c * per_client + r) % len(PROMPTS)]
            got = stream_request(base, {"model": "tiny", "prompt": prompt, "max_tokens": max_tokens,
                                        "temperature": 0, "ignore_eos": True})
            with lock:
                results.append(got)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    tokens = max_tokens * len(results)
    ttfts = sorted(r["ttft"] for r in results if r.get("ttft") is not None)
    return {"clients": clients, "requests": len(results), "tokens": tokens, "seconds": wall,
            "tps": tokens / wall, "ttft_median": statistics.median(ttfts),
            "ttft_p90": ttfts[int(0.9 * (len(ttfts) - 1))],
            "errors": sum(1 for r in results if "error" in r or r.get("finish") != "length")}


MALFORMED = [
    b'{"model": "tiny", "messages": [',                                   # broken JSON
    b'{"model": "tiny", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}',
    b'{"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}',  # unknown model
    b'{"model": "tiny", "prompt": "x", "max_tokens": 100000}',              # too many tokens
    b'[1, 2, 3]',
]


def load_run(base: str, requests: int, clients: int) -> dict:
    """``requests`` requests from ``clients`` threads: 10% malformed (must get 4xx), 10% streams
    the client abandons after two chunks, the rest well formed (chat and text, streamed or not,
    n of 1 or 2), each of which must finish."""
    rng = random.Random(13)
    plan = (["malformed"] * (requests // 10) + ["cancel"] * (requests // 10))
    plan += ["ok"] * (requests - len(plan))
    rng.shuffle(plan)
    jobs = list(enumerate(plan))
    lock = threading.Lock()
    counts = {"ok": 0, "ok_failed": 0, "malformed_4xx": 0, "malformed_other": 0, "cancelled": 0,
              "cancel_failed": 0}
    failures: list[str] = []

    def run_one(i: int, kind: str) -> None:
        if kind == "malformed":
            body = MALFORMED[i % len(MALFORMED)]
            path = "/v1/completions" if b'"prompt"' in body else "/v1/chat/completions"
            try:
                with post(base + path, body):
                    status = 200
            except urllib.error.HTTPError as exc:
                status = exc.code
                error = json.loads(exc.read()).get("error", {})
                if not error.get("message"):
                    status = -1
            with lock:
                counts["malformed_4xx" if 400 <= status < 500 else "malformed_other"] += 1
            return
        chat = i % 2 == 0
        payload: dict = {"model": "tiny", "max_tokens": 24 + i % 17, "temperature": 0.7,
                         "seed": i, "n": 1 + (i % 5 == 0)}
        if chat:
            payload["messages"] = [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]
        else:
            payload["prompt"] = PROMPTS[i % len(PROMPTS)]
        try:
            if kind == "cancel":
                got = stream_request(base, {**payload, "max_tokens": 200, "ignore_eos": True},
                                     stop_after=2)
                with lock:
                    counts["cancelled" if got.get("chunks", 0) >= 1 else "cancel_failed"] += 1
                return
            if i % 3 == 0:
                got = stream_request(base, payload)
                ok = "error" not in got and got["finish"] in ("stop", "length")
            else:
                path = "/v1/chat/completions" if chat else "/v1/completions"
                with post(base + path, json.dumps(payload).encode()) as response:
                    data = json.loads(response.read())
                ok = (len(data["choices"]) == payload["n"]
                      and all(c["finish_reason"] in ("stop", "length") for c in data["choices"]))
        except Exception as exc:  # counted as a failure of a well-formed request
            ok = False
            with lock:
                failures.append(f"{kind} {i}: {type(exc).__name__}: {exc}")
        with lock:
            counts["ok" if ok else "ok_failed"] += 1

    def client() -> None:
        while True:
            with lock:
                if not jobs:
                    return
                i, kind = jobs.pop()
            run_one(i, kind)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    time.sleep(0.5)
    with urllib.request.urlopen(base + "/health", timeout=30) as response:
        health = json.loads(response.read())
    return {**counts, "seconds": wall, "health": health, "failures": failures[:5]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from bench_eval import machine_line, tiny_model

    max_tokens = 64
    per_client_1 = 8 if args.quick else 16
    per_client_8 = 3 if args.quick else 8
    load_requests = 200
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tiny_model(tmp / "tiny")
        proc, base = start_server(tmp / "tiny", tmp / "server.log")
        try:
            stream_request(base, {"model": "tiny", "prompt": "local", "max_tokens": 8})  # warm-up
            one = throughput(base, 1, per_client_1, max_tokens)
            eight = throughput(base, 8, per_client_8, max_tokens)
            load = load_run(base, load_requests, 16)
        finally:
            proc.terminate()
            proc.wait(30)
        alive = proc.returncode is not None and load["health"].get("status") == "ok"
    ratio = eight["tps"] / one["tps"]
    print("## serve (`luacoder eval serve`)\n")
    print(machine_line() + "; server: 1 torch thread, --max-batch 16; clients: threads of the "
          "bench process over HTTP (streaming, greedy, ignore_eos).\n")
    print(f"### Throughput and time to first token ({max_tokens} new tokens per request)\n")
    print("| clients | requests | tokens | seconds | tokens/s | vs 1 client | TTFT median | TTFT p90 | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row, speed in ((one, 1.0), (eight, ratio)):
        print(f"| {row['clients']} | {row['requests']} | {row['tokens']} | {row['seconds']:.2f} | "
              f"{row['tps']:,.0f} | {speed:.1f}x | {row['ttft_median'] * 1000:.0f} ms | "
              f"{row['ttft_p90'] * 1000:.0f} ms | {row['errors']} |")
    print(f"\nGoal >= 4x with 8 clients: {'met' if ratio >= 4 else 'NOT met'} ({ratio:.1f}x).\n")
    print(f"### Load run ({load_requests} requests from 16 clients)\n")
    health = load["health"]
    print("| well-formed finished | well-formed failed | malformed answered 4xx | malformed other | "
          "streams abandoned | seconds | server after |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    print(f"| {load['ok']} | {load['ok_failed']} | {load['malformed_4xx']} | "
          f"{load['malformed_other']} | {load['cancelled']} | {load['seconds']:.1f} | "
          f"{'alive' if health.get('status') == 'ok' else 'DOWN'}, {health.get('running')} running, "
          f"{health.get('cancelled')} cancelled, {health.get('failed')} failed |")
    print("\nMix: 10% malformed (broken JSON, wrong type, unknown model, too many tokens, not an "
          "object), 10% streams the client closes after two chunks (200 tokens asked), the rest "
          "chat and text completions, streamed or not, n = 1 or 2, temperature 0.7, seeded.")
    if load["failures"]:
        print("\nFailures: " + "; ".join(load["failures"]))
    if not alive:
        print("\n(server exit status after the run: unexpected)")


if __name__ == "__main__":
    main()
