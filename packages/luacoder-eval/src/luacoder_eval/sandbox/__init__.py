"""The Lua sandbox for functional correctness: a fresh lupa ``lua53``/``lua54`` runtime per program
(:mod:`.runtime`) inside guarded, parallel worker processes (:mod:`.pool`)."""

from luacoder_eval.sandbox.pool import SandboxPool, run_programs
from luacoder_eval.sandbox.runtime import (
    FAILURE_KINDS,
    LUA_VERSIONS,
    ExecResult,
    Limits,
    Program,
    run_program,
)

__all__ = ["FAILURE_KINDS", "LUA_VERSIONS", "ExecResult", "Limits", "Program", "SandboxPool",
           "run_program", "run_programs"]
