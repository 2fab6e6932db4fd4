"""``syntax``: share of samples whose Lua compiles (Lua 5.4, compile only).

A sample is valid when it has at least one Lua chunk and every chunk compiles
(``luacoder_core.lua.check_syntax``). The chunks are the report type's ``syntax_chunks``: the
whole text for ``code``, the ```lua and untagged fenced blocks for ``markdown`` (inline code spans
are names, not chunks, and are not checked). A sample with no Lua at all (an empty generation, or
an answer without a code block) counts as **not** valid: ``syntax_valid_rate`` is over all
samples, so a model cannot score higher by writing nothing. ``samples_with_code`` says how many
had any.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from luacoder_core.components import Metric


class Syntax(Metric):
    """Share of samples whose Lua chunks all compile (a sample without Lua is not valid)."""

    summary = "Syntax validity: share of samples whose Lua code blocks all compile (Lua 5.4)."
    requires = ()
    provides = ("syntax_valid_rate", "syntax_valid", "samples_with_code")

    def compute(self, samples: list[dict], context: dict) -> dict[str, Any]:
        from luacoder_core.lua import check_syntax

        from luacoder_eval.intervals import wilson_interval

        valid = with_code = 0
        errors: Counter[str] = Counter()
        for sample in samples:
            chunks = sample.get("blocks")
            if chunks is None:
                chunks = sample.get("code") or []
            if not chunks:
                continue
            with_code += 1
            ok = True
            for chunk in chunks:
                result = check_syntax(chunk)
                if not result.ok:
                    ok = False
                    errors[_error_kind(result.message or "")] += 1
                    break
            valid += ok
        return {
            "syntax_valid_rate": valid / len(samples) if samples else None,
            "syntax_valid_rate_ci95": wilson_interval(valid, len(samples)),
            "syntax_valid": valid,
            "samples_with_code": with_code,
            "syntax_errors": dict(errors.most_common(10)),
        }


def _error_kind(message: str) -> str:
    """``"'end' expected (to close 'function' at line 1) near <eof>"`` -> ``"'end' expected"``."""
    for cut in (" (", " near "):
        if cut in message:
            message = message.split(cut, 1)[0]
    return message.strip()[:80]
