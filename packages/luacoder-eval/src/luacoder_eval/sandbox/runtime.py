"""Run one Lua program in a fresh, locked-down lupa runtime (``lua53`` or ``lua54``).

The harness (``harness.lua``) gives the program an allowed-only environment shaped like Debian's
``lua5.3``/``lua5.4`` (the compatibility functions ``math.pow`` and friends, ``bit32`` under 5.3):
``string``, ``table``, ``math``, ``utf8``, a hooked ``coroutine``, ``os.clock/time/date/difftime``,
``os.exit`` (caught), ``print``, ``io.write``/``io.stdout:write`` (captured, chainable),
``debug.traceback``, ``load`` in text mode only, ``require('luaunit')`` (LuaUnit 3.4's assertions
and runner) and nothing else: no files, ``os.execute``, the rest of ``debug``, ``package.loadlib``,
``dofile``, ``string.dump``, bytecode or Python. Touching one of those ends the program as a
``sandbox`` violation.

Limits: a wall-clock deadline enforced by a watchdog thread that sets a count hook on the running
program from outside when the time is up (no hook cost before that: compute-heavy code runs at
plain Lua's speed), count hooks on coroutines the program creates, an optional instruction
budget, and ``max_memory`` for the Lua allocator. A single long C call (a pathological pattern)
cannot be interrupted by a hook: :mod:`luacoder_eval.sandbox.pool` runs programs in worker
processes and kills one at the deadline.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any, NamedTuple

#: the Lua versions a program can run under (Debian's lua5.3 / lua5.4)
LUA_VERSIONS = ("5.3", "5.4")

#: failure kinds, in the order reports list them
FAILURE_KINDS = ("syntax", "runtime", "assertion", "timeout", "memory", "sandbox", "early_exit",
                 "no_tests")


@dataclass(frozen=True)
class Limits:
    """Per-program limits. ``timeout`` is wall-clock seconds; ``max_memory_mb`` caps the Lua
    allocator; ``process_memory_mb`` the worker's address space growth (RLIMIT_AS)."""

    timeout: float = 5.0
    #: 0 = no instruction budget (time only, full speed); else a count hook from the start
    max_instructions: int = 0
    max_memory_mb: int = 256
    #: captured output sent back per program (it never decides a verdict; bounded evaluator memory)
    max_output: int = 4096
    process_memory_mb: int = 1024
    #: extra seconds the outer guard grants before it kills the worker
    grace: float = 0.5
    #: "5.3" or "5.4": the interpreter (published HumanEval-Lua figures come from 5.3)
    lua_version: str = "5.4"
    #: error and failure messages are cut to this many bytes in the worker
    max_message: int = 4096

    def __post_init__(self) -> None:
        if self.lua_version not in LUA_VERSIONS:
            raise ValueError(f"lua_version must be one of {', '.join(LUA_VERSIONS)}, got {self.lua_version!r}")


class Program(NamedTuple):
    """A program and where its tests start (a byte offset into the UTF-8 source; ``None``: the
    whole program is the tests' own code, as for a hand-written test file)."""

    source: str
    tests_at: int | None = None

    @classmethod
    def of(cls, code: str, tests: str) -> Program:
        """MultiPL-E's program: ``code + "\\n" + tests``; the tests start after the newline."""
        prefix = code + "\n"
        return cls(prefix + tests, len(prefix.encode("utf-8", "replace")))


@dataclass
class ExecResult:
    """The verdict on one program. ``kind`` is None when it passed, else one of
    :data:`FAILURE_KINDS`."""

    passed: bool
    kind: str | None
    message: str = ""
    tests: int = 0
    failures: int = 0
    errors: int = 0
    assertions: int = 0
    seconds: float = 0.0
    output: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def as_tuple(self) -> tuple:
        return (self.passed, self.kind, self.message, self.tests, self.failures, self.errors,
                self.assertions, self.seconds, self.output)


_HARNESS: bytes | None = None
_HARNESS_CODE: dict[str, bytes] = {}


def harness_source() -> bytes:
    global _HARNESS
    if _HARNESS is None:
        _HARNESS = resources.files("luacoder_eval.sandbox").joinpath("harness.lua").read_bytes()
    return _HARNESS


def lua_module(version: str = "5.4"):
    """lupa's module for a Lua version (lupa's own default is 5.5: never use it here)."""
    if version == "5.3":
        from lupa import lua53

        return lua53
    if version == "5.4":
        from lupa import lua54

        return lua54
    raise ValueError(f"lua_version must be one of {', '.join(LUA_VERSIONS)}, got {version!r}")


def harness_bytecode(version: str = "5.4") -> bytes:
    """The harness compiled once per process and version (compiling its source took 2/3 of a
    program's cost); our own trusted bytecode, loaded into each fresh runtime. Programs are still
    loaded in text mode only."""
    code = _HARNESS_CODE.get(version)
    if code is None:
        lua = lua_module(version)
        compiler = lua.LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
        dump = compiler.eval("function(src) return string.dump(assert(load(src, '=harness', 't'))) end")
        code = _HARNESS_CODE[version] = bytes(dump(harness_source()))
    return code


# ------------------------------------------------------------------------------------------------
# the watchdog: at the deadline, a count hook is set on the program's main coroutine from another
# thread (lua_sethook is safe to call asynchronously, as lua.c does from its SIGINT handler; Lua
# 5.4 re-reads the hook flag at every jump back). lupa releases the GIL while Lua runs.
# ------------------------------------------------------------------------------------------------

_LUA_MASKCOUNT = 8


class _Hooks:
    """ctypes access to ``lua_sethook``/``lua_gethook`` inside lupa's extension module."""

    def __init__(self, version: str) -> None:
        import ctypes

        lib = ctypes.CDLL(lua_module(version).__file__)
        self.gethook = lib.lua_gethook
        self.gethook.restype = ctypes.c_void_p
        self.gethook.argtypes = [ctypes.c_void_p]
        self.sethook = lib.lua_sethook
        self.sethook.restype = None
        self.sethook.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        self.hookf: int | None = None


_HOOKS: dict[str, _Hooks] = {}


def _hooks(version: str) -> _Hooks | None:
    hooks = _HOOKS.get(version)
    if hooks is None:
        try:
            hooks = _HOOKS[version] = _Hooks(version)
        except (OSError, AttributeError):  # a lupa build without exported symbols
            return None
    return hooks


class _Watchdog:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.cond = threading.Condition()
        self.job: tuple[float, Any] | None = None
        self.thread = threading.Thread(target=self._loop, name="luacoder-sandbox-watchdog", daemon=True)
        self.thread.start()

    def arm(self, deadline: float, fire) -> None:
        with self.cond:
            self.job = (deadline, fire)
            self.cond.notify()

    def disarm(self) -> None:
        # fire() runs under the lock: once this returns, the hook is no longer touched
        with self.cond:
            self.job = None

    def _loop(self) -> None:
        with self.cond:
            while True:
                if self.job is None:
                    self.cond.wait()
                    continue
                deadline, fire = self.job
                now = time.monotonic()
                if now < deadline:
                    self.cond.wait(deadline - now)
                    continue
                self.job = None
                try:
                    fire()
                except Exception:  # the outer guard still kills the worker
                    pass


_WATCHDOG: _Watchdog | None = None


def _watchdog() -> _Watchdog:
    global _WATCHDOG
    if _WATCHDOG is None or _WATCHDOG.pid != os.getpid():  # threads do not survive a fork
        _WATCHDOG = _Watchdog()
    return _WATCHDOG


def _pointer(text: Any) -> int | None:
    text = _text(text)
    try:
        return int(text.rsplit(" ", 1)[-1], 16)
    except ValueError:
        return None


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("Python attributes are not reachable from the sandbox")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def run_program(program: str | bytes | Program, limits: Limits = Limits(), *,
                tests_at: int | None = None) -> ExecResult:
    """Compile and run ``program`` in a fresh sandboxed runtime and judge it.

    ``tests_at`` (or a :class:`Program`) says where the tests' own code starts. A program passes
    only when LuaUnit's runner, called by the tests' code, ran every test function defined in the
    tests to completion with at least one assertion of the tests' own, nothing failed, and the
    program then ended normally or with a success status (``os.exit(0)``/``os.exit(true)``). An
    ``os.exit`` before the tests ran is ``early_exit`` (plain ``lua`` would call that a pass).
    """
    if isinstance(program, Program):
        program, tests_at = program.source, program.tests_at
    lua = lua_module(limits.lua_version)
    source = program.encode("utf-8", "replace") if isinstance(program, str) else bytes(program)
    start = time.monotonic()
    runtime = lua.LuaRuntime(encoding=None, register_eval=False, register_builtins=False,
                             max_memory=limits.max_memory_mb << 20,
                             attribute_filter=_deny_attributes)
    dog = None
    try:
        run, main, probe, hook_main = runtime.execute(
            harness_bytecode(limits.lua_version), source, tests_at, float(limits.timeout),
            float(limits.max_instructions or 0), int(limits.max_output), int(limits.max_message),
            time.monotonic)
        hooks = _hooks(limits.lua_version)
        main_ptr = _pointer(main)
        if hooks is not None and main_ptr:
            if hooks.hookf is None:
                probe_ptr = _pointer(probe)
                hooks.hookf = hooks.gethook(probe_ptr) if probe_ptr else None
            if hooks.hookf:
                hookf = hooks.hookf

                def fire() -> None:
                    hooks.sethook(main_ptr, hookf, _LUA_MASKCOUNT, 1)

                dog = _watchdog()
                dog.arm(time.monotonic() + limits.timeout + 0.002, fire)
        if dog is None and main_ptr:
            hook_main()  # no watchdog: a count hook from the start keeps the deadline
        try:
            values = run()
        finally:
            if dog is not None:
                dog.disarm()
    except lua.LuaMemoryError:
        return ExecResult(False, "memory", "not enough memory", seconds=time.monotonic() - start)
    except lua.LuaError as exc:
        message = _text(exc.args[0] if exc.args else exc)[: limits.max_message]
        return ExecResult(False, "runtime", f"sandbox error: {message}",
                          seconds=time.monotonic() - start)
    finally:
        del runtime
    seconds = time.monotonic() - start
    return judge(values, seconds, limits.max_message)


def judge(values: tuple, seconds: float, max_message: int = 4096) -> ExecResult:
    """Turn the harness's verdict into an :class:`ExecResult` (messages cut again, to be sure)."""
    (passed, kind, message, _exit_status, tests, failures, errors, assertions,
     output) = (tuple(values) + (None,) * 9)[:9]
    kind = _text(kind) or None
    message = _text(message)[:max_message + 16]
    tests, failures, errors, assertions = (int(x or 0) for x in (tests, failures, errors, assertions))
    passed = passed is True and kind is None
    if not passed and kind is None:
        kind = "runtime"
    return ExecResult(passed, kind, message, tests, failures, errors, assertions, seconds, _text(output))
