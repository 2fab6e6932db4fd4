"""``arity``: calls of documented functions whose argument count does not fit (a softer figure).

Calls come from ``luacoder_core.lua.extract_calls`` on every chunk; a call is checked when its
name is exactly a documented function or method whose parameters are known (``params`` with
``optional`` flags, else parsed from ``signature``: ``f(a [, b])``, ``f(a, ...)``). A call fits
when it passes at least the required and at most the documented number (no limit after a vararg
``...``); an open-ended call (last argument a call or ``...``) only fails when it already passes
too many. A method call ``obj:m(x)`` counts 1 argument (``self`` is implicit). Cut-off calls are
not checked. Every call counts (no deduplication): ``arity_ok_rate`` = fitting / checked.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from luacoder_core.components import Metric


class Arity(Metric):
    """Share of checked calls of documented functions whose argument count fits the docs."""

    summary = "Arity check: calls of documented functions with a fitting argument count."
    requires = ("api",)
    provides = ("arity_ok_rate", "arity_checked", "arity_mismatches")

    def compute(self, samples: list[dict], context: dict) -> dict[str, Any]:
        from luacoder_core.lua import extract_calls

        arity = context.get("api_arity") or {}
        roots = context["api"].roots
        checked = 0
        bad: Counter[str] = Counter()
        for sample in samples:
            for chunk in sample.get("code") or []:
                for call in extract_calls(chunk, roots):
                    spec = arity.get(call.name)
                    if spec is None or call.nargs is None:
                        continue
                    checked += 1
                    if not spec.fits(call.nargs, call.open_ended):
                        bad[call.name] += 1
        mismatches = sum(bad.values())
        return {
            "arity_ok_rate": (checked - mismatches) / checked if checked else None,
            "arity_checked": checked,
            "arity_mismatches": mismatches,
            "arity_mismatched": dict(sorted(bad.items(), key=lambda kv: (-kv[1], kv[0]))),
        }
