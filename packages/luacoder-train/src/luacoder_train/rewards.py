"""The rewards luacoder-train registers: ``lua_syntax`` and ``api_grounded``.

Both are the evaluator's own checks, built on core's Lua analysis, in trl's reward-function form
(``reward(prompts, completions, **columns) -> list[float | None]``). Cheap to import.

How the Lua of a completion is read (the run's ``report_type``):

* ``code`` (plain-text prompts, MultiPL-E problems): the completion continues the prompt (a
  function header), cut at the first of the row's ``stop_tokens`` when the dataset has them. The
  completion is Lua when it compiles on its own or as ``prompt + completion``.
* ``markdown`` (chat prompts): the fenced ```` ```lua ```` and untagged blocks of the answer are
  the chunks (inline code spans are names, counted for references only).
"""

from __future__ import annotations

from typing import Any

from luacoder_core.components import Reward, completion_text

REPORT_TYPES = ("code", "markdown")


def cut_at_stop(text: str, stops: Any) -> str:
    """``text`` up to the earliest of the stop sequences (MultiPL-E's ``stop_tokens``)."""
    if isinstance(stops, str):
        stops = [stops]
    end = len(text)
    for stop in stops or ():
        if isinstance(stop, str) and stop:
            at = text.find(stop)
            if 0 <= at < end:
                end = at
    return text[:end]


def has_code(text: str) -> bool:
    """True when ``text`` holds at least one Lua token that is not a comment (the lexer runs only
    when there is a comment to see through: it costs 20x the syntax check)."""
    if "--" not in text:
        return bool(text.strip())
    from luacoder_core.lua import tokenize

    return any(token.kind != "comment" for token in tokenize(text))


def syntax_chunks(prompt: Any, completion: Any, report_type: str, stops: Any = None) -> list[str]:
    """The Lua chunks of one completion whose syntax decides it (empty: no Lua at all)."""
    text = completion_text(completion)
    if report_type == "markdown":
        from luacoder_core.markdown import inline_code, lua_code

        code = lua_code(text)
        spans = len(inline_code(text)) if code else 0
        return [b for b in code[: len(code) - spans] if has_code(b)]
    text = cut_at_stop(text, stops)
    return [text] if text.strip() and has_code(text) else []


def code_compiles(prompt: Any, completion: Any, report_type: str, stops: Any = None) -> bool:
    """The completion holds Lua and all of it compiles (for ``code``: alone or after its prompt)."""
    from luacoder_core.lua import check_syntax

    chunks = syntax_chunks(prompt, completion, report_type, stops)
    if not chunks:
        return False
    if report_type == "code":
        body = chunks[0]
        prefix = prompt if isinstance(prompt, str) else ""
        return check_syntax(body).ok or (bool(prefix) and check_syntax(prefix + body).ok)
    return all(check_syntax(chunk).ok for chunk in chunks)


def reference_chunks(completion: Any, report_type: str, stops: Any = None) -> list[str]:
    """The Lua whose name chains count as API references (DESIGN.md step 1): the completion for
    ``code`` (not the prompt: its names are not the model's), blocks and inline spans for
    ``markdown``."""
    text = completion_text(completion)
    if report_type == "markdown":
        from luacoder_core.markdown import lua_code

        return lua_code(text)
    text = cut_at_stop(text, stops)
    return [text] if text.strip() else []


def _column(columns: dict[str, Any], name: str, n: int) -> list[Any]:
    values = columns.get(name)
    return list(values) if isinstance(values, (list, tuple)) and len(values) == n else [None] * n


def _log(columns: dict[str, Any], name: str, value: float | None) -> None:
    log_metric = columns.get("log_metric")
    if callable(log_metric) and value is not None:
        log_metric(name, float(value))


def _check_options(name: str, options: dict[str, Any], known: dict[str, type | tuple]) -> dict[str, Any]:
    from luacoder_core.config import closest

    for key, value in options.items():
        if key not in known:
            guess = closest(key, known)
            hint = f"; did you mean '{guess}'?" if guess else ""
            raise ValueError(f"unknown option '{key}'{hint} (known: {', '.join(sorted(known))})")
        if not isinstance(value, known[key]) or isinstance(value, bool) and known[key] is not bool:
            raise ValueError(f"option '{key}' must be {getattr(known[key], '__name__', known[key])}, "
                             f"got {value!r}")
    return options


def _report_type(context: dict[str, Any]) -> str:
    report_type = context.get("report_type") or "code"
    if report_type not in REPORT_TYPES:
        raise ValueError(f"report_type must be one of {', '.join(REPORT_TYPES)}, got {report_type!r}")
    return report_type


# ------------------------------------------------------------------------------------------------
# lua_syntax
# ------------------------------------------------------------------------------------------------


class LuaSyntax(Reward):
    """1.0 when the completion's Lua compiles (Lua 5.4), 0.0 when it does not or has no Lua."""

    summary = ("The completion's Lua compiles (Lua 5.4, compile only); empty or code-free "
               "completions earn 0")

    def bind(self, options: dict[str, Any], context: dict[str, Any]) -> Any:
        options = _check_options("lua_syntax", dict(options), {"invalid": (int, float)})
        return _LuaSyntaxRun(_report_type(context), float(options.get("invalid", 0.0)))


class _LuaSyntaxRun:
    __name__ = "lua_syntax"

    def __init__(self, report_type: str, invalid: float = 0.0) -> None:
        self.report_type = report_type
        self.invalid = invalid

    def __call__(self, prompts: list, completions: list, **columns: Any) -> list[float | None]:
        stops = _column(columns, "stop_tokens", len(completions))
        scores = [1.0 if code_compiles(p, c, self.report_type, s) else self.invalid
                  for p, c, s in zip(prompts, completions, stops)]
        if scores:
            _log(columns, "syntax_valid_rate", sum(s == 1.0 for s in scores) / len(scores))
        return scores


# ------------------------------------------------------------------------------------------------
# api_grounded
# ------------------------------------------------------------------------------------------------


def load_api_index(path: str, source: str | None = None):
    """The :class:`~luacoder_core.lua.ApiIndex` of an API records file (``api_path``)."""
    from pathlib import Path

    from luacoder_core.errors import InputError
    from luacoder_core.lua import ApiIndex
    from luacoder_core.records import iter_records

    file = Path(path)
    if not file.is_absolute() and not file.exists() and source:
        candidate = Path(source).parent / path
        if candidate.exists():
            file = candidate
    if not file.is_file():
        raise InputError(f"api_path '{path}' is not a file", file=source, key="api_path")
    index = ApiIndex.from_records(item.record for item in iter_records(file))
    if not len(index):
        raise InputError(f"api_path '{path}' holds no API record with a 'name'", file=source,
                         key="api_path")
    return index


class ApiGrounded(Reward):
    """(documented - penalty x hallucinated) / references: DESIGN.md's API match rule per
    completion; None for a completion without references."""

    summary = ("Share of the completion's API references that are documented (DESIGN.md rule), "
               "minus a penalty per hallucinated name; needs api_path")
    requires = ("api_path",)

    def bind(self, options: dict[str, Any], context: dict[str, Any]) -> Any:
        options = _check_options("api_grounded", dict(options), {
            "hallucination_penalty": (int, float), "no_references": (int, float, type(None))})
        penalty = float(options.get("hallucination_penalty", 1.0))
        if penalty < 0:
            raise ValueError(f"option 'hallucination_penalty' must be >= 0, got {penalty}")
        if not context.get("api_path"):
            raise ValueError("needs api_path (the API records file) in the recipe")
        index = context.get("api_index") or load_api_index(context["api_path"], context.get("source"))
        return _ApiGroundedRun(index, _report_type(context), penalty, options.get("no_references"))


class _ApiGroundedRun:
    __name__ = "api_grounded"

    def __init__(self, index, report_type: str, penalty: float = 1.0,
                 no_references: float | None = None) -> None:
        self.index = index
        self.report_type = report_type
        self.penalty = penalty
        self.no_references = no_references

    def score(self, completion: Any, stops: Any = None) -> tuple[float | None, int, int]:
        """(reward, distinct references, hallucinated ones) of one completion."""
        names: set[str] = set()
        for chunk in reference_chunks(completion, self.report_type, stops):
            names.update(ref.name for ref in self.index.references(chunk))  # bare roots: no
        if not names:
            return self.no_references, 0, 0
        bad = sum(not self.index.matches(name) for name in names)
        good = len(names) - bad
        return (good - self.penalty * bad) / len(names), len(names), bad

    def __call__(self, prompts: list, completions: list, **columns: Any) -> list[float | None]:
        stops = _column(columns, "stop_tokens", len(completions))
        scored = [self.score(c, s) for c, s in zip(completions, stops)]
        refs = sum(n for _, n, _ in scored)
        with_refs = [bad for _, n, bad in scored if n]
        if completions:
            # share of completions that name at least one undocumented API name
            _log(columns, "hallucination_rate", sum(b > 0 for b in with_refs) / len(completions))
            _log(columns, "refs_per_completion", refs / len(completions))
        if refs:
            _log(columns, "api_match_accuracy", sum(n - b for _, n, b in scored) / refs)
        return [s for s, _, _ in scored]
