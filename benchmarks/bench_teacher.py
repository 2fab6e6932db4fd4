"""Benchmark of ``api-chat --teacher``: what the reply cache saves on a rerun.

    .venv/bin/python benchmarks/bench_teacher.py [--quick]

Prints a markdown section to stdout. The teacher is a scripted OpenAI-compatible server on
loopback that answers after a fixed delay (a stand-in for a real model's latency: a hosted
model takes seconds per answer), with grounded answers for every task. The converter runs
in-process (``luacoder data convert api-chat``), sandboxed tests off (``--no-teacher-tests``,
so only the teacher's cost is compared); the baseline is the first run, the same run's cache
then answers the rerun (goal: rerun >= 10x faster).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FENCE = "```"


def scripted_teacher(delay: float) -> tuple[ThreadingHTTPServer, list[int]]:
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            user = body["messages"][-1]["content"]
            asked = re.search(r"A developer asks: (.+)", user)
            names = re.findall(r"### `([\w.:]+)\(", user)
            if asked:
                name = names[0] if names else "print"
                text = (f"Call `{name}`:\n\n{FENCE}lua\nlocal obj = {{x = 0}}\n"
                        f"local result = {name}(1, obj)\n{FENCE}\n")
            else:
                text = "".join(f"{i}. Use {names[0] if names else 'it'} for job {i} in a game.\n"
                               for i in (1, 2))
            time.sleep(delay)
            data = json.dumps({"choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": text}}]}
                              ).encode()
            count[0] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_eval import machine_line
    from click.testing import CliRunner
    from luacoder_core.cli import build_cli

    records = 8 if args.quick else 24
    delay = 0.5 if args.quick else 1.0
    concurrency = 4
    api = [{"name": f"game.f{i}", "kind": "function", "signature": f"game.f{i}(n, obj)",
            "description": f"Does thing {i} to obj."} for i in range(records)]
    cli = build_cli()
    server, count = scripted_teacher(delay)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "api.jsonl").write_text("".join(json.dumps(r) + "\n" for r in api))
        argv = ["data", "convert", "api-chat", str(tmp / "api.jsonl"), "-o", str(tmp / "chat.jsonl"),
                "--teacher", url, "--teacher-model", "scripted", "--teacher-tasks", "2",
                "--teacher-group-size", "0", "--teacher-concurrency", str(concurrency),
                "--no-teacher-tests", "--no-progress"]
        for label in ("first run (every reply from the teacher)", "rerun (replies from the cache)"):
            before = count[0]
            start = time.perf_counter()
            result = CliRunner().invoke(cli, argv, catch_exceptions=False)
            seconds = time.perf_counter() - start
            if result.exit_code != 0:
                sys.exit(result.output)
            written = sum(1 for _ in (tmp / "chat.jsonl").open())
            rows.append((label, count[0] - before, written, seconds))
    server.shutdown()
    speedup = rows[0][3] / rows[1][3]
    print("## teacher (`api-chat --teacher`)\n")
    print(machine_line() + f"; scripted teacher on loopback answering in {delay:.1f} s, "
          f"{concurrency} requests in flight, {records} API records x 2 tasks.\n")
    print("| run | requests sent | conversations written | seconds | vs first run |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, sent, written, seconds in rows:
        print(f"| {label} | {sent} | {written} | {seconds:.2f} | {rows[0][3] / seconds:.1f}x |")
    print(f"\nGoal: rerun >= 10x faster: {'met' if speedup >= 10 else 'NOT met'} ({speedup:.0f}x). "
          "The rerun still reads the API, checks every answer (names, syntax) and writes the "
          "output; only the teacher is skipped.")


if __name__ == "__main__":
    main()
