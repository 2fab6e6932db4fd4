"""The ``lua_tests`` reward: a completion passes its problem's tests in the sandbox of
``luacoder eval exec``.

The rows are MultiPL-E problems as they are: the prompt is the function header, ``tests`` the
LuaUnit test code, ``stop_tokens`` (optional) where a completion ends. The program of a completion
is :func:`luacoder_eval.execution.build_program`'s (``prompt + completion cut at the first stop
token + "\\n" + tests``); for chat prompts (report type ``markdown``) it is the answer's fenced Lua
blocks followed by the tests. A row without tests gets None ("not applicable").

Every program of a batch runs in one call to :func:`luacoder_eval.sandbox.run_programs`: forked,
resource-limited worker processes, never the training process. Identical programs (GRPO samples
repeat themselves) run once; verdicts are kept in an LRU cache (``cache_size``, 0: none). The call
happens in a small sandbox server process started once per run (:class:`SandboxServer`), so the
workers are forked from it rather than from the trainer with its model in memory; a batch gets one
worker per 8 programs, up to ``workers`` (forking a worker costs more than running a few programs).

``grading: share`` (the default) scores the share of the test's assertions that pass: a program that fails is run again once per
assertion (the other assertions left out), in one more batch (exact, but a failing completion
costs one program per assertion); ``grading: prefix`` scores the assertions passed before the
first failure, from the same single run (cheap; LuaUnit stops a test at its first failure);
``grading: binary`` scores 1 for a pass and 0 otherwise.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from typing import Any

from luacoder_core.components import Reward, completion_text

#: one assertion of a MultiPL-E / LuaUnit test, on its own line
ASSERTION_RE = re.compile(r"^\s*lu\.assert\w*\s*\(")
GRADINGS = ("share", "prefix", "binary")
#: a batch gets one sandbox worker per this many programs (a fork costs about as much as 8 runs)
PROGRAMS_PER_WORKER = 8
#: failures worth grading per assertion (a syntax error or a timeout fails every assertion)
GRADED_KINDS = frozenset({"assertion", "runtime"})


def split_assertions(tests: str) -> list[str]:
    """One variant of ``tests`` per assertion line, the other assertions left out; ``[]`` when
    the tests have fewer than two assertion lines (nothing to grade beyond pass/fail)."""
    lines = tests.splitlines(keepends=True)
    where = [i for i, line in enumerate(lines) if ASSERTION_RE.match(line)]
    if len(where) < 2:
        return []
    others = set(where)
    return ["".join(line for j, line in enumerate(lines) if j == i or j not in others)
            for i in where]


def program_code(prompt: Any, completion: Any, report_type: str, stops: Any) -> str | None:
    """The Lua that goes before the tests: MultiPL-E's ``prompt + cut completion`` for ``code``,
    the fenced Lua blocks for ``markdown``; None when a chat answer holds no code block."""
    from luacoder_eval.execution import cut_at_stop

    text = completion_text(completion)
    if report_type == "markdown":
        from luacoder_core.markdown import inline_code, lua_code

        code = lua_code(text)
        spans = len(inline_code(text)) if code else 0
        blocks = [b for b in code[: len(code) - spans] if b.strip()]
        return "\n".join(blocks) if blocks else None
    if isinstance(stops, str):
        stops = [stops]
    stops = [s for s in stops or [] if isinstance(s, str)]
    return (prompt if isinstance(prompt, str) else "") + cut_at_stop(text, stops)


def _serve(conn) -> None:
    """The sandbox server's loop: batches of programs in, their verdicts out. The guarded
    workers live across batches (one :class:`SandboxPool` per limits and worker count), so a
    training step pays for its programs, not for forking the workers again."""
    from luacoder_eval.sandbox import SandboxPool

    pools: dict = {}
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if message is None:
                return
            programs, limits, workers = message
            try:
                key = (limits, workers)
                if key not in pools:
                    pools[key] = SandboxPool(limits, workers=workers)
                conn.send(("ok", pools[key].run(programs)))
            except Exception as exc:  # noqa: BLE001 - reported to the trainer, never swallowed
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        for pool in pools.values():
            pool.close()


def serve_fd(fd: int) -> None:
    """Entry point of the sandbox server process: serve on the socket ``fd``."""
    from multiprocessing.connection import Connection

    _serve(Connection(fd))


class SandboxServer:
    """A small Python process (no torch, no model in it) that runs batches of programs with
    :class:`luacoder_eval.sandbox.SandboxPool`, whose guarded workers it forks once.

    Forking the sandbox's workers straight from a training process copies the trainer's address
    space for every batch (2-3x the cost of the programs themselves next to even a tiny model) and
    puts the model's memory in the processes that run generated code; a server started once keeps
    both out. It is a plain subprocess (``python -c``), not a multiprocessing child, so it works
    from any script or notebook (no ``if __name__ == "__main__"`` guard needed) and may fork. It
    ends when its socket closes (the trainer exited or was killed); a server that died is started
    again for the next batch.
    """

    def __init__(self) -> None:
        self.process = None
        self.conn = None

    def _start(self) -> None:
        import atexit
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        parent, child = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        code = f"from luacoder_eval.rewards import serve_fd; serve_fd({child.fileno()})"
        self.process = subprocess.Popen([sys.executable, "-c", code], pass_fds=(child.fileno(),),
                                        stdin=subprocess.DEVNULL, env=env)
        child.close()
        self.conn = Connection(parent.detach())
        atexit.register(self.close)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def run(self, programs: list[str], limits, workers: int):
        for attempt in (1, 2):
            if not self.alive():
                self.close()
                self._start()
            try:
                self.conn.send((programs, limits, workers))
                status, payload = self.conn.recv()
            except (EOFError, OSError):
                self.close()
                if attempt == 2:
                    raise RuntimeError("the lua_tests sandbox server died twice in a row") from None
                continue
            if status != "ok":
                raise RuntimeError(f"the lua_tests sandbox failed: {payload}")
            return payload
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.conn.close()
        if self.process is not None:
            try:
                self.process.wait(timeout=2)
            except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired
                self.process.kill()
                self.process.wait()
        self.process = self.conn = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class LuaTests(Reward):
    """Share of the problem's assertions the completion passes (or pass/fail), in the sandbox."""

    summary = ("Passes the problem's tests (MultiPL-E 'tests' column) in the eval sandbox's "
               "worker processes; graded by share of assertions, prefix or binary")

    def bind(self, options: dict[str, Any], context: dict[str, Any]) -> Any:
        from luacoder_core.config import closest

        known = {"grading": str, "timeout": (int, float), "workers": int, "max_memory_mb": int,
                 "cache_size": int}
        for key, value in options.items():
            if key not in known:
                guess = closest(key, known)
                hint = f"; did you mean '{guess}'?" if guess else ""
                raise ValueError(f"unknown option '{key}'{hint} (known: {', '.join(sorted(known))})")
            if not isinstance(value, known[key]) or isinstance(value, bool):
                raise ValueError(f"option '{key}' has the wrong type: {value!r}")
        grading = options.get("grading", "share")
        if grading not in GRADINGS:
            raise ValueError(f"option 'grading' must be one of {', '.join(GRADINGS)}, got {grading!r}")
        report_type = context.get("report_type") or "code"
        return LuaTestsRun(report_type=report_type, grading=grading,
                           timeout=float(options.get("timeout", 2.0)),
                           workers=options.get("workers"),
                           max_memory_mb=int(options.get("max_memory_mb", 256)),
                           cache_size=int(options.get("cache_size", 4096)))


class LuaTestsRun:
    """The bound reward of one run (picklable: plain attributes)."""

    __name__ = "lua_tests"

    def __init__(self, *, report_type: str = "code", grading: str = "share", timeout: float = 2.0,
                 workers: int | None = None, max_memory_mb: int = 256,
                 cache_size: int = 4096) -> None:
        self.report_type = report_type
        self.grading = grading
        self.timeout = timeout
        self.workers = workers
        self.max_memory_mb = max_memory_mb
        self.cache_size = cache_size

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_server", "_cache")}

    def _run(self, programs: list[str]):
        from luacoder_eval.sandbox import Limits

        limits = Limits(timeout=self.timeout, max_memory_mb=self.max_memory_mb)
        workers = self.workers or min(os.cpu_count() or 1, 8)
        cache = self.__dict__.setdefault("_cache", OrderedDict())
        todo = list(dict.fromkeys(p for p in programs if p not in cache))
        if todo:
            server = self.__dict__.get("_server")
            if server is None:
                server = self.__dict__["_server"] = SandboxServer()
            used = max(1, min(workers, len(todo) // PROGRAMS_PER_WORKER))
            for program, result in zip(todo, server.run(todo, limits, used)):
                cache[program] = result
        results = []
        for program in programs:
            cache.move_to_end(program)
            results.append(cache[program])
        while len(cache) > max(self.cache_size, len(programs)):
            cache.popitem(last=False)
        if not self.cache_size:
            cache.clear()
        self.executed = getattr(self, "executed", 0) + len(todo)
        return results

    def __call__(self, prompts: list, completions: list, **columns: Any) -> list[float | None]:
        n = len(completions)
        executed_before = getattr(self, "executed", 0)

        def column(name: str) -> list[Any]:
            values = columns.get(name)
            return list(values) if isinstance(values, (list, tuple)) and len(values) == n else [None] * n

        tests, stops = column("tests"), column("stop_tokens")
        scores: list[float | None] = [None] * n
        from luacoder_eval.sandbox.runtime import Program

        programs: list[Program] = []
        owners: list[int] = []
        codes: dict[int, str] = {}
        for i, (prompt, completion) in enumerate(zip(prompts, completions)):
            if not isinstance(tests[i], str) or not tests[i].strip():
                continue
            code = program_code(prompt, completion, self.report_type, stops[i])
            if code is None or not completion_text(completion).strip():
                scores[i] = 0.0
                continue
            codes[i] = code
            programs.append(Program.of(code, tests[i]))
            owners.append(i)
        results = self._run(programs) if programs else []
        retry: list[Program] = []
        retry_owner: list[int] = []
        for i, result in zip(owners, results):
            if result.passed:
                scores[i] = 1.0
                continue
            scores[i] = 0.0
            if self.grading == "prefix" and result.kind in GRADED_KINDS:
                total = sum(1 for line in tests[i].splitlines() if ASSERTION_RE.match(line))
                # the harness counts an assertion when it is called: the failing one counts too
                passed = result.assertions - (1 if result.kind == "assertion" else 0)
                scores[i] = min(max(passed, 0), total) / total if total else 0.0
            if self.grading == "share" and result.kind in GRADED_KINDS:
                for variant in split_assertions(tests[i]):
                    retry.append(Program.of(codes[i], variant))
                    retry_owner.append(i)
        if retry:
            passed: dict[int, list[bool]] = {}
            for i, result in zip(retry_owner, self._run(retry)):
                passed.setdefault(i, []).append(result.passed)
            for i, verdicts in passed.items():
                scores[i] = sum(verdicts) / len(verdicts)
        applicable = [s for s in scores if s is not None]
        log_metric = columns.get("log_metric")
        if callable(log_metric) and applicable:
            log_metric("pass_rate", sum(s == 1.0 for s in applicable) / len(applicable))
            log_metric("sandbox_programs", float(getattr(self, "executed", 0) - executed_before))
        return scores
