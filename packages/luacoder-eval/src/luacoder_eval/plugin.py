"""The eval stage's built-in plugin: report types ``code`` and ``markdown``, metrics
``api_match``, ``syntax``, ``arity`` and ``pass_at_k``, the ``lua_tests`` reward (for ``luacoder
train grpo``) and the ``luacoder eval`` commands.

Importing this module is cheap (no torch, transformers, peft or pandas): components and commands
import what they need when they run.
"""

from __future__ import annotations

from luacoder_core import hookimpl


@hookimpl
def register_commands(cli):
    from luacoder_eval.commands import add_commands

    add_commands(cli)


@hookimpl
def register_report_types(register):
    from luacoder_eval.report_types import CodeReport, MarkdownReport

    register("code", CodeReport())
    register("markdown", MarkdownReport())


@hookimpl
def register_metrics(register):
    from luacoder_eval.metrics import ApiMatch, Arity, PassAtK, Syntax

    register("api_match", ApiMatch())
    register("syntax", Syntax())
    register("arity", Arity())
    register("pass_at_k", PassAtK())


@hookimpl
def register_rewards(register):
    from luacoder_eval.rewards import LuaTests

    register("lua_tests", LuaTests())
