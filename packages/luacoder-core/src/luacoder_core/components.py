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
