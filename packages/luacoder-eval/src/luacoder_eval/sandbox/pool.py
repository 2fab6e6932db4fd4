"""The outer guard: run programs in forked worker processes, in parallel, and kill one that
overruns its deadline.

A count hook cannot interrupt one long C call (``(('a'):rep(1500)..'b'):find('.-.-c')`` runs for
minutes inside ``string.find``), and a bug in an allocator or in lupa must not take the evaluator
down. So every program runs in a worker process forked from the evaluator:

* the worker caps its address space (``RLIMIT_AS``: its size at fork plus
  ``Limits.process_memory_mb``), may not write files (``RLIMIT_FSIZE`` 0) or dump core, and has
  stdout/stderr on ``/dev/null``;
* the parent gives each program ``timeout + grace`` seconds of wall clock and SIGKILLs the worker
  when they pass (the program is a ``timeout``), then forks a fresh one;
* a worker that dies (a crash, the kernel's OOM killer) fails its program as ``memory`` (killed
  by a signal) or ``runtime`` and is replaced; the evaluator goes on.

Each program still gets its own fresh Lua runtime inside the worker (``runtime.run_program``).
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence

from luacoder_eval.sandbox.runtime import ExecResult, Limits, Program, harness_bytecode, run_program


def _limit_process(limits: Limits) -> None:
    import resource

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills workers
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass
    try:
        with open("/proc/self/statm") as fh:
            vm_size = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        vm_size = 0
    for name, value in (("RLIMIT_AS", vm_size + (limits.process_memory_mb << 20)),
                        ("RLIMIT_FSIZE", 0), ("RLIMIT_CORE", 0)):
        limit = getattr(resource, name, None)
        if limit is None:
            continue
        try:
            _, hard = resource.getrlimit(limit)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(limit, (value, hard))
        except (ValueError, OSError):
            pass


def _worker_main(conn, limits: Limits) -> None:
    _limit_process(limits)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        index, program = job
        try:
            result = run_program(program, limits)
        except MemoryError:
            result = ExecResult(False, "memory", "the worker ran out of address space")
        except BaseException as exc:  # the evaluator reports it, the worker lives on
            text = f"{type(exc).__name__}: {exc}"[: limits.max_message]
            result = ExecResult(False, "runtime", f"evaluator error: {text}")
        try:
            conn.send((index, result.as_tuple()))
        except (OSError, ValueError):
            return


class _Worker:
    def __init__(self, ctx, limits: Limits) -> None:
        self.ctx = ctx
        self.limits = limits
        self.job: int | None = None
        self.started = 0.0
        self.deadline = 0.0
        self._spawn()

    def _spawn(self) -> None:
        parent, child = self.ctx.Pipe(duplex=True)
        self.proc = self.ctx.Process(target=_worker_main, args=(child, self.limits), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent
        self.job = None

    def assign(self, index: int, program: str | Program) -> None:
        self.job = index
        self.started = time.monotonic()
        self.deadline = self.started + self.limits.timeout + self.limits.grace
        try:
            self.conn.send((index, program))
        except (OSError, ValueError):
            pass  # a dead worker: its EOF is seen by the wait loop

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def restart(self) -> None:
        self.kill()
        self._spawn()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(0.5)
        self.kill()


def _died(worker: _Worker) -> ExecResult:
    worker.proc.join(1)
    code = worker.proc.exitcode
    seconds = time.monotonic() - worker.started
    memory_signals = {-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS}
    if code in memory_signals:
        return ExecResult(False, "memory", f"the sandbox process was killed by signal {-code}",
                          seconds=seconds)
    return ExecResult(False, "runtime", f"the sandbox process died (exit code {code})",
                      seconds=seconds)


class SandboxPool:
    """Guarded workers kept alive across batches: :meth:`run` takes a batch of programs and
    returns their verdicts, reusing the workers the last batch left (a killed or dead worker is
    replaced, as always). For callers that send many small batches (the ``lua_tests`` reward runs
    one batch per training step), where forking the workers anew per batch costs more than the
    programs. Use it as a context manager, or call :meth:`close`."""

    def __init__(self, limits: Limits = Limits(), *, workers: int | None = None) -> None:
        import multiprocessing

        self.limits = limits
        self.size = max(1, workers or os.cpu_count() or 1)
        self._ctx = multiprocessing.get_context("fork")
        self._workers: list[_Worker] = []

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure(self, count: int) -> list[_Worker]:
        if len(self._workers) < count:
            harness_bytecode(self.limits.lua_version)  # compiled once, inherited by every fork
            self._workers += [_Worker(self._ctx, self.limits)
                              for _ in range(count - len(self._workers))]
        return self._workers[:count]

    def run(self, programs: Sequence[str | Program], *,
            progress: Callable[[int, int], None] | None = None) -> list[ExecResult]:
        """Run every program under the outer guard; results in the order of ``programs``."""
        from multiprocessing.connection import wait

        total = len(programs)
        results: list[ExecResult | None] = [None] * total
        if total == 0:
            return []
        limits = self.limits
        pool = self._ensure(min(self.size, total))
        queue = deque(range(total))
        done = 0
        try:
            while queue or any(w.job is not None for w in pool):
                for w in pool:
                    if w.job is None and queue:
                        index = queue.popleft()
                        w.assign(index, programs[index])
                busy = [w for w in pool if w.job is not None]
                timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
                ready = wait([w.conn for w in busy], timeout=timeout)
                for w in busy:
                    if w.conn not in ready:
                        continue
                    try:
                        index, payload = w.conn.recv()
                    except (EOFError, OSError):
                        results[w.job] = _died(w)  # type: ignore[index]
                        w.restart()
                    else:
                        results[index] = ExecResult(*payload)
                        w.job = None
                    done += 1
                    if progress is not None:
                        progress(done, total)
                now = time.monotonic()
                for w in busy:
                    if w.job is not None and now >= w.deadline:
                        results[w.job] = ExecResult(
                            False, "timeout",
                            f"killed by the outer guard after {now - w.started:.1f}s (time limit "
                            f"{limits.timeout:g}s; a long C call such as a pathological pattern)",
                            seconds=now - w.started)
                        w.restart()
                        done += 1
                        if progress is not None:
                            progress(done, total)
        finally:
            for w in pool:
                if w.job is not None:  # interrupted mid-batch: its late answer must not leak
                    w.restart()
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def close(self) -> None:
        for w in self._workers:
            w.stop()
        self._workers = []


def run_programs(programs: Sequence[str | Program], limits: Limits = Limits(), *,
                 workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> list[ExecResult]:
    """Run every program under the outer guard, ``workers`` at a time (default: one per CPU);
    results come back in the order of ``programs``. A :class:`Program` says where its tests
    start (what makes the verdict cheat-proof); a plain string is all tests' own code."""
    if not programs:
        return []
    count = max(1, min(workers or os.cpu_count() or 1, len(programs)))
    with SandboxPool(limits, workers=count) as pool:
        return pool.run(programs, progress=progress)
