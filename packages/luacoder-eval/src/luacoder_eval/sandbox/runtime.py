"""Run one Lua program in a fresh, locked-down lupa ``lua54`` runtime (no process guard here).

The harness (``harness.lua``) gives the program an allowed-only environment: ``string``, ``table``,
``math``, ``utf8``, a hooked ``coroutine``, ``os.clock/time/date/difftime``, ``os.exit`` (caught),
``print`` and ``io.write`` (captured), ``load`` in text mode only, ``require('luaunit')`` (a
LuaUnit-compatible module) and nothing else: no ``io`` files, ``os.execute``, ``debug``,
``package.loadlib``, ``dofile``, ``string.dump``, bytecode or Python. Touching one of those ends the
program as a ``sandbox`` violation. Limits: an instruction budget and a wall-clock deadline checked
by a count hook on every coroutine, and ``max_memory`` for the Lua allocator. A single long C call
(a pathological pattern) cannot be interrupted by a hook: :mod:`luacoder_eval.sandbox.pool` runs
programs in worker processes and kills one at the deadline.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

#: failure kinds, in the order reports list them
FAILURE_KINDS = ("syntax", "runtime", "assertion", "timeout", "memory", "sandbox", "early_exit",
                 "no_tests")


@dataclass(frozen=True)
class Limits:
    """Per-program limits. ``timeout`` is wall-clock seconds; ``max_memory_mb`` caps the Lua
    allocator; ``process_memory_mb`` the worker's address space growth (RLIMIT_AS)."""

    timeout: float = 5.0
    max_instructions: int = 1_000_000_000
    max_memory_mb: int = 256
    max_output: int = 65_536
    process_memory_mb: int = 1024
    #: extra seconds the outer guard grants before it kills the worker
    grace: float = 0.5


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
_HARNESS_CODE: bytes | None = None


def harness_source() -> bytes:
    global _HARNESS
    if _HARNESS is None:
        _HARNESS = resources.files("luacoder_eval.sandbox").joinpath("harness.lua").read_bytes()
    return _HARNESS


def harness_bytecode() -> bytes:
    """The harness compiled once per process (compiling its source took 2/3 of a program's
    cost); our own trusted bytecode, loaded into each fresh runtime. Programs are still loaded
    in text mode only."""
    global _HARNESS_CODE
    if _HARNESS_CODE is None:
        from lupa import lua54

        compiler = lua54.LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
        dump = compiler.eval("function(src) return string.dump(assert(load(src, '=harness', 't'))) end")
        _HARNESS_CODE = bytes(dump(harness_source()))
    return _HARNESS_CODE


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("Python attributes are not reachable from the sandbox")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def run_program(program: str | bytes, limits: Limits = Limits()) -> ExecResult:
    """Compile and run ``program`` in a fresh sandboxed runtime and judge it.

    A program passes only when LuaUnit's run finished, ran at least one test and one assertion,
    and nothing failed; then ``os.exit(0)`` / ``os.exit(true)`` or a normal end are both fine. An
    ``os.exit`` before the tests finished is ``early_exit`` (plain ``lua`` would call that a
    pass).
    """
    from lupa import lua54

    source = program.encode("utf-8", "replace") if isinstance(program, str) else bytes(program)
    start = time.monotonic()
    runtime = lua54.LuaRuntime(encoding=None, register_eval=False, register_builtins=False,
                               max_memory=limits.max_memory_mb << 20,
                               attribute_filter=_deny_attributes)
    try:
        values = runtime.execute(harness_bytecode(), source, float(limits.max_instructions),
                                 float(limits.timeout), int(limits.max_output), time.monotonic)
    except lua54.LuaMemoryError:
        return ExecResult(False, "memory", "not enough memory", seconds=time.monotonic() - start)
    except lua54.LuaError as exc:
        return ExecResult(False, "runtime", f"sandbox error: {_text(exc.args[0] if exc.args else exc)}",
                          seconds=time.monotonic() - start)
    finally:
        del runtime
    seconds = time.monotonic() - start
    return judge(values, seconds)


def judge(values: tuple, seconds: float) -> ExecResult:
    """Turn the harness's return values into a verdict."""
    (outcome, message, exit_code, ran, tests, failures, errors, assertions, output,
     first) = (tuple(values) + (None,) * 10)[:10]
    outcome = _text(outcome)
    message = _text(message)
    output = _text(output)
    first = _text(first)
    tests, failures, errors, assertions = (int(x or 0) for x in (tests, failures, errors, assertions))

    def result(passed: bool, kind: str | None, msg: str) -> ExecResult:
        return ExecResult(passed, kind, msg, tests, failures, errors, assertions, seconds, output)

    if outcome in ("syntax", "runtime", "assertion", "timeout", "memory", "sandbox"):
        return result(False, outcome, message)
    if outcome == "exit" and not ran:
        return result(False, "early_exit",
                      f"os.exit({_exit_repr(exit_code)}) was called before the tests finished")
    if not ran:
        return result(False, "no_tests", "the program ended without running its tests "
                                         "(no lu.LuaUnit.run())")
    if errors:
        return result(False, "runtime", first or f"{errors} test(s) raised an error")
    if failures:
        return result(False, "assertion", first or f"{failures} test(s) failed")
    if tests == 0 or assertions == 0:
        return result(False, "no_tests", "LuaUnit ran no test function" if tests == 0
                      else "the tests ran no assertion")
    if outcome == "exit" and not (exit_code is True or exit_code == 0):
        return result(False, "runtime", f"os.exit({_exit_repr(exit_code)}) after the tests passed")
    return result(True, None, "")


def _exit_repr(code: Any) -> str:
    if code is True:
        return "true"
    if code is False:
        return "false"
    return _text(code)
