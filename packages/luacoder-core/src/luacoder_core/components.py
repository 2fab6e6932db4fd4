"""The shapes of the components plugins register.

Built-in and third-party components subclass these (or duck-type them). Each has a one-line
``summary`` shown by ``luacoder data|train|eval list``. Importing a component's module must stay
cheap: heavy libraries are imported inside ``run``/``compute``.
"""

from __future__ import annotations

from typing import Any

import click


class Converter:
    """Turns input files into records: ``luacoder data convert NAME INPUT... -o OUTPUT``."""

    summary: str = ""
    #: the record kind it writes (``api``, ``code``, ``conversation``, ``preference``)
    output_kind: str | None = None

    def params(self) -> list[click.Parameter]:
        """Extra click options of this converter (beyond ``INPUT...`` and ``-o/--output``)."""
        return []

    def run(self, inputs: list[str], output: str, **options: Any) -> Any:
        """Convert ``inputs`` into ``output``; return a :class:`luacoder_core.records.Summary`."""
        raise NotImplementedError


class Trainer:
    """A training method: ``luacoder train NAME CONFIG.yaml [--set key=value] [--dry-run]``."""

    summary: str = ""

    def params(self) -> list[click.Parameter]:
        """Extra click options of this trainer's command."""
        return []

    def run(self, config: dict, *, source: str | None = None, dry_run: bool = False,
            **options: Any) -> Any:
        """Train from a loaded config (``source`` is the YAML path, for error messages)."""
        raise NotImplementedError


class ReportType:
    """How Lua code is read out of a generated text (DESIGN.md, API match step 1)."""

    summary: str = ""

    def extract_code(self, text: str) -> list[str]:
        """Return the Lua code chunks found in ``text``."""
        raise NotImplementedError


class Metric:
    """A score computed over a list of generations."""

    summary: str = ""

    def compute(self, samples: list[dict], context: dict) -> dict[str, Any]:
        """Score ``samples`` (dicts with ``prompt``, ``output`` and ``code``: the chunks the
        report type extracted). ``context`` holds what the metric needs (``api``: an
        :class:`luacoder_core.lua.ApiIndex`, ``problems``, ...). Returns named values."""
        raise NotImplementedError


class Reward:
    """A reward for RL trainers (``grpo``), in trl's reward-function form.

    ``reward(prompts, completions, **columns)`` gets the prompts, the completions (strings, or
    message lists for chat prompts; :func:`completion_text` reads either) and every other dataset
    column as a list of per-completion values (``tests``, ``stop_tokens``...), plus what trl adds
    (``log_metric(name, value)`` logs a task metric for the step). It returns one float per
    completion, or None where the reward does not apply (``lua_tests`` on a prompt without
    tests).

    :meth:`bind` makes the callable for one training run from the recipe's ``options`` for this
    reward and the run's ``context`` (``report_type``: ``code`` or ``markdown``, ``api_path``,
    ``source``: the recipe path). Raise ``ValueError`` naming a bad option. ``requires`` names the
    recipe keys the reward needs (``api_path``), checked before the model loads.
    """

    summary: str = ""
    #: recipe keys this reward needs (checked before training starts)
    requires: tuple[str, ...] = ()

    def bind(self, options: dict[str, Any], context: dict[str, Any]) -> Any:
        """The callable trl calls during one run (default: this reward, which takes no options)."""
        if options:
            raise ValueError(f"takes no options (got {', '.join(sorted(options))})")
        return self

    def __call__(self, prompts: list, completions: list, **columns: Any) -> list[float | None]:
        raise NotImplementedError


def completion_text(completion: Any) -> str:
    """The text of one completion: a string as is, a chat completion (a list of messages) as its
    assistant contents joined by newlines."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, (list, tuple)):
        return "\n".join(completion_text(m) for m in completion
                         if not isinstance(m, dict) or m.get("role", "assistant") == "assistant")
    return "" if completion is None else str(completion)
