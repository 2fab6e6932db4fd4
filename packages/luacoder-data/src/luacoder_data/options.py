"""Click options every converter shares, and the helpers that read them."""

from __future__ import annotations

from typing import Any

import click

from luacoder_data.outputs import FORMATS, Output


def common_params(*, split: bool = False) -> list[click.Parameter]:
    """``--format``, ``--skip-malformed``, ``--no-progress`` (and ``--test-size``/``--seed``)."""
    params: list[click.Parameter] = [
        click.Option(["--format", "fmt"], type=click.Choice(FORMATS), default="jsonl",
                     show_default=True,
                     help="Output format: JSON Lines, Parquet, or a datasets save_to_disk folder. "
                          "The rejects file is always OUTPUT.rejects.jsonl."),
        click.Option(["--skip-malformed"], is_flag=True,
                     help="Send input lines that are not valid JSON to the rejects file instead of "
                          "stopping with an error (exit 2) that names file and line."),
        click.Option(["--progress/--no-progress"], default=True, show_default=True,
                     help="Progress bar on stderr for inputs of more than a few hundred records."),
    ]
    if split:
        params += [
            click.Option(["--test-size"], type=float, default=None,
                         help="Hold out a test split: a fraction (0.1) or a count (200). Writes "
                              "OUT-stem.train.jsonl and OUT-stem.test.jsonl (a DatasetDict for "
                              "--format hf)."),
        ]
    return params


def seed_param(default: int = 0) -> click.Option:
    return click.Option(["--seed"], type=int, default=default, show_default=True,
                        help="Random seed: the same seed and input give the same output.")


def open_output(output: str, *, kind: str, name: str, options: dict[str, Any],
                test_size: float | None = None, seed: int = 0) -> Output:
    return Output(output, kind=kind, fmt=options.get("fmt", "jsonl"), test_size=test_size,
                  seed=seed, progress=options.get("progress", True), name=name)


def malformed_mode(options: dict[str, Any]) -> str:
    return "yield" if options.get("skip_malformed") else "error"
