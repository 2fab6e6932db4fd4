"""The summary ``luacoder run`` ends with: per stage its status, time and main figure.

Figures are read from what each stage left on disk, so core needs no training or evaluation
library: a convert stage's output and rejects files (records written, rejected), a train stage's
``trainer_state.json`` (steps, final loss), an eval stage's ``results.json`` (best checkpoint and
its metric, where the reports are), a model folder's ``luacoder.json`` (parameters). A figure that
cannot be read is left out; the summary never fails a run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

STATUS_WORDS = {"complete": "ran", "cached": "cached", "failed": "failed", "pending": "not run",
                "running": "stopped"}


def _count_lines(path: Path, limit: int = 50_000_000) -> int | None:
    try:
        n = 0
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                n += block.count(b"\n")
                if n > limit:
                    break
        return n
    except OSError:
        return None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _fmt_number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3g}" if abs(value) < 1e-3 else f"{value:.4g}"
    return str(value)


def _train_state(output: Path) -> dict | None:
    """The newest ``trainer_state.json``: the final one beside the model, else the last
    checkpoint's."""
    candidates = [output / "trainer_state.json"]
    steps = []
    if output.is_dir():
        for child in output.iterdir():
            if child.name.startswith("checkpoint-") and child.name[11:].isdigit():
                steps.append((int(child.name[11:]), child / "trainer_state.json"))
    candidates += [p for _, p in sorted(steps, reverse=True)]
    for path in candidates:
        state = _json(path)
        if isinstance(state, dict):
            return state
    return None


def convert_figure(output: Path) -> str | None:
    written = _count_lines(output) if output.is_file() else None
    if written is None:
        return None
    rejects = output.with_name(output.name + ".rejects.jsonl")  # DESIGN.md: <output>.rejects.jsonl
    rejected = _count_lines(rejects) if rejects.is_file() else 0
    text = f"{_fmt_number(written)} records"
    if rejected:
        text += f", {_fmt_number(rejected)} rejected"
    return text


def train_figure(output: Path) -> str | None:
    state = _train_state(output)
    if not state:
        meta = _json(output / "luacoder.json")
        return f"{meta.get('trainer', 'model')} model" if isinstance(meta, dict) else None
    losses = [e for e in state.get("log_history") or [] if isinstance(e, dict)
              and isinstance(e.get("loss"), (int, float))]
    parts = [f"{_fmt_number(state.get('global_step'))} steps"]
    if losses:
        first, last = losses[0], losses[-1]
        parts.append(f"loss {_fmt_number(first['loss'])} -> {_fmt_number(last['loss'])}")
    rewards = [e for e in state.get("log_history") or [] if isinstance(e, dict)
               and isinstance(e.get("reward"), (int, float))]
    if rewards:
        parts.append(f"reward {_fmt_number(rewards[-1]['reward'])}")
    return ", ".join(parts)


def eval_figure(output: Path) -> str | None:
    results = _json(output / "results.json")
    if not isinstance(results, dict):
        return None
    rows = [r for r in results.get("rows") or [] if isinstance(r, dict)]
    metric = results.get("metric") or "metric"
    best = results.get("best")
    text = f"{len(rows)} checkpoint(s) scored"
    if best is not None:
        row = next((r for r in rows if r.get("checkpoint") == best), {})
        text += f", best {best} {metric}={_fmt_number(row.get(metric))}"
        if isinstance(row.get("refs_total"), int):
            text += f" over {row['refs_total']} refs"
    else:
        text += f", no best ({metric} has no value)"
    return text


def command_figure(output: Path) -> str | None:
    meta = _json(output / "luacoder.json") if output.is_dir() else None
    if isinstance(meta, dict):
        if isinstance(meta.get("parameters"), int):
            return f"{_fmt_number(meta['parameters'])} parameters"
        if meta.get("merged") or meta.get("kind"):
            return str(meta.get("kind") or "merged model")
    if output.is_file():
        n = _count_lines(output)
        return f"{_fmt_number(n)} lines" if n is not None else None
    return None


FIGURES = {"convert": convert_figure, "train": train_figure, "eval": eval_figure,
           "command": command_figure}


def stage_figure(kind: str, output: Path) -> str:
    try:
        figure = FIGURES.get(kind, command_figure)(output)
        if figure is None and kind != "command" and output.is_dir():
            figure = eval_figure(output) or train_figure(output)
        return figure or ""
    except Exception:  # noqa: BLE001 - a summary line never fails a run
        return ""


def _fmt_seconds(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def summary_lines(order: list[str], records: dict[str, dict], stages: dict[str, Any],
                  run_dir: Path, total_seconds: float | None = None) -> list[str]:
    """The summary table: stage, status, time (a cached stage shows the time it took when it
    ran), main figure; then where the reports are."""
    rows = []
    for name in order:
        record = records.get(name, {})
        stage = stages[name]
        status = STATUS_WORDS.get(record.get("status", "pending"), record.get("status", "?"))
        seconds = record.get("seconds")
        time_text = _fmt_seconds(seconds)
        if status == "cached":
            done = _json(Path(stage.dir) / ".luacoder-complete.json")
            before = done.get("seconds") if isinstance(done, dict) else None
            time_text = f"({_fmt_seconds(before)})" if before is not None else "-"
        figure = stage_figure(stage.kind, Path(stage.output)) if status in ("ran", "cached") else \
            (record.get("error", "")[:100] if status == "failed" else "")
        rows.append((name, status, time_text, figure))
    width = max([len(r[0]) for r in rows] + [5])
    lines = ["", "summary:", f"  {'stage':<{width}}  {'status':<8} {'time':>10}  main figure"]
    for name, status, time_text, figure in rows:
        lines.append(f"  {name:<{width}}  {status:<8} {time_text:>10}  {figure}".rstrip())
    ran = sum(r[1] == "ran" for r in rows)
    cached = sum(r[1] == "cached" for r in rows)
    failed = sum(r[1] == "failed" for r in rows)
    tail = f"  {ran} ran, {cached} cached, {failed} failed"
    if total_seconds is not None:
        tail += f" in {_fmt_seconds(total_seconds)}"
    lines.append(tail + (" (a cached stage's time, in parentheses, is from the run that made it)"
                         if cached else ""))
    reports = []
    for name in order:
        output = Path(stages[name].output)
        for report in ("report.html", "report.md"):
            if (output / report).is_file():
                reports.append(f"  {name}: {run_dir / name / (output / report).relative_to(stages[name].dir)}")
    if reports:
        lines.append("reports:")
        lines.extend(reports)
    return lines


__all__ = ["stage_figure", "summary_lines"]
