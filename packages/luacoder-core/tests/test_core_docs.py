"""Every hook is documented in docs/plugins.md and has a test of its own (datasette's habit)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from luacoder_core import hookspecs

HOOKS = sorted(name for name, fn in vars(hookspecs).items()
               if inspect.isfunction(fn) and hasattr(fn, "luacoder_spec"))
DOC = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"
TESTS = Path(__file__).resolve().parent


def test_every_spec_is_found():
    assert {"register_commands", "register_converters", "register_trainers",
            "register_report_types", "register_metrics", "before_stage", "after_stage",
            "on_stage_error"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook):
    args = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    headings = re.findall(r"^### (.+)$", DOC.read_text(), flags=re.M)
    assert f"{hook}({args})" in headings, f"docs/plugins.md lacks a '### {hook}({args})' section"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook):
    sources = "\n".join(p.read_text() for p in TESTS.glob("test_*.py"))
    assert re.search(rf"^def test_hook_{hook}\b", sources, flags=re.M), f"no test_hook_{hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring(hook):
    assert (getattr(hookspecs, hook).__doc__ or "").strip()
