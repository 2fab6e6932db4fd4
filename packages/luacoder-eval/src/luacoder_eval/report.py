"""What a sweep writes: ``results.csv``, ``results.json``, ``report.md`` and ``metrics.png``.

Every file is written atomically (a temp file in the same folder, then a rename), so an
interrupted sweep never leaves half a report.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from luacoder_core.records import write_text_atomic

from luacoder_eval.intervals import mean_interval, wilson_interval  # noqa: F401 - re-exported

#: scalar columns shown first in tables and CSV
LEADING = ("checkpoint", "step", "kind")
#: metrics drawn in the plot when present (rates in [0, 1]); pass@k are added
PLOTTED = ("api_match_accuracy", "macro_accuracy", "syntax_valid_rate", "arity_ok_rate")
#: row fields that are bookkeeping, not metrics
BOOKKEEPING = ("path", "adapter", "fingerprint", "gen_seconds", "score_seconds", "exec_seconds",
               "new_tokens", "generations")


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def metric_columns(rows: list[dict]) -> list[str]:
    """Scalar metric columns in the order they first appear."""
    columns: list[str] = []
    for row in rows:
        for key, value in row.items():
            if key in LEADING or key in BOOKKEEPING or key in columns or not is_scalar(value):
                continue
            columns.append(key)
    return columns


#: how many items a metric's value rests on: (row field with the count, what is counted)
EVIDENCE = {
    "api_match_accuracy": ("refs_total", "references"),
    "macro_accuracy": ("samples_with_refs", "samples with references"),
    "syntax_valid_rate": ("samples", "samples"),
    "arity_ok_rate": ("arity_checked", "calls"),
}


def evidence_of(row: dict, metric: str) -> tuple[int | None, str]:
    """How many references (samples, problems, ...) ``row``'s ``metric`` rests on; None when the
    metric does not say."""
    if metric.startswith("pass@"):
        field, what = "exec_problems", "problems"
    else:
        field, what = EVIDENCE.get(metric, (None, ""))
    value = row.get(field) if field else None
    return (int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None), what


def _has_value(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def pick_best(rows: list[dict], metric: str, min_evidence: int = 0) -> dict | None:
    """The row with the highest ``metric``; ties go to the later row (rows are in step order,
    so the later step wins). Rows without a value never win, nor do rows whose value rests on
    fewer than ``min_evidence`` references/problems (the sweep's ``min_refs``)."""
    best: dict | None = None
    best_value = -math.inf
    for row in rows:
        value = row.get(metric)
        if not _has_value(value):
            continue
        count, _ = evidence_of(row, metric)
        if count is not None and count < min_evidence:
            continue
        if value >= best_value:
            best, best_value = row, value
    return best


def too_little_evidence(rows: list[dict], metric: str, min_evidence: int) -> str | None:
    """Why no checkpoint is crowned although some have a value: too little evidence."""
    counts = [evidence_of(r, metric) for r in rows if _has_value(r.get(metric))]
    if not counts or pick_best(rows, metric, min_evidence) is not None:
        return None
    most = max((c for c, _ in counts if c is not None), default=0)
    what = counts[0][1] or "items"
    return (f"too little evidence: every checkpoint's {metric} rests on fewer than {min_evidence} "
            f"{what} (at most {most}); add prompts or samples, or lower min_refs")


def write_csv(path: Path, rows: list[dict]) -> None:
    import pandas as pd

    columns = [*LEADING, *metric_columns(rows), *[c for c in BOOKKEEPING if c != "fingerprint"]]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
    write_text_atomic(path, frame.to_csv(index=False))


def write_json(path: Path, payload: dict) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def _cell(row: dict, column: str) -> str:
    text = _fmt(row.get(column))
    interval = row.get(f"{column}_ci95")
    if isinstance(interval, (list, tuple)) and len(interval) == 2 and row.get(column) is not None:
        text += f" [{interval[0]:.2f}, {interval[1]:.2f}]"
    return text


def render_report(rows: list[dict], skipped: list[dict], metric: str, config: dict) -> str:
    min_evidence = int(config.get("min_refs") or 0)
    best = pick_best(rows, metric, min_evidence)
    columns = metric_columns(rows)
    lines = ["# luacoder eval report", ""]
    lines.append(f"Report type `{config.get('report_type')}`, prompts `{config.get('test_data_path')}`, "
                 f"API `{config.get('api_path')}`"
                 + (f", problems `{config.get('problems_path')}`" if config.get("problems_path") else "")
                 + ".")
    lines.append("")
    if best is not None:
        lines.append(f"**Best checkpoint: `{best['checkpoint']}`** (step {_fmt(best.get('step'))}) "
                     f"with {metric} = {_fmt(best.get(metric))}; ties go to the later step.")
    else:
        reason = too_little_evidence(rows, metric, min_evidence)
        lines.append(f"**No best checkpoint**: {reason}." if reason else
                     f"**No best checkpoint**: no checkpoint has a value for {metric}.")
    lines.append("")
    lines.append("Evidence: accuracies show their 95% interval in brackets (Wilson score interval "
                 "over references for `api_match_accuracy` and over samples for rates; normal "
                 "approximation over problems for pass@k and over samples for `macro_accuracy`); "
                 "`refs_total` and `samples_with_refs` say how many references and samples the API "
                 f"figures rest on. A checkpoint is crowned only with at least {min_evidence} "
                 "references (problems for pass@k), `min_refs`.")
    lines.append("")
    lines.append("| checkpoint | step | " + " | ".join(columns) + " |")
    lines.append("| --- | --- | " + " | ".join("---" for _ in columns) + " |")
    for row in rows:
        name = f"**{row['checkpoint']}**" if best is not None and row is best else row["checkpoint"]
        lines.append(f"| {name} | {_fmt(row.get('step'))} | "
                     + " | ".join(_cell(row, c) for c in columns) + " |")
    lines.append("")
    if skipped:
        lines.append("## Skipped")
        lines.append("")
        for item in skipped:
            lines.append(f"- `{item['checkpoint']}` ({item['path']}): {item['reason']}")
        lines.append("")
    lines.extend(_hallucinations(rows, best))
    lines.append("![metrics against training step](metrics.png)")
    lines.append("")
    return "\n".join(lines)


def _hallucinations(rows: list[dict], best: dict | None, top: int = 15) -> list[str]:
    totals: dict[str, int] = {}
    where: dict[str, list[str]] = {}
    examples: dict[str, dict] = {}
    for row in rows:
        for name, count in (row.get("hallucinated") or {}).items():
            totals[name] = totals.get(name, 0) + int(count)
            where.setdefault(name, []).append(row["checkpoint"])
            example = (row.get("hallucinated_examples") or {}).get(name)
            if example and name not in examples:
                examples[name] = example
    lines = ["## Most frequent hallucinated names", ""]
    if not totals:
        lines += ["No undocumented API names were generated.", ""]
        return lines
    lines.append("Counted once per sample that used the name, summed over checkpoints.")
    lines.append("")
    lines.append("| name | samples | in best | closest documented | example |")
    lines.append("| --- | --- | --- | --- | --- |")
    best_counts = (best or {}).get("hallucinated") or {}
    for name, count in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
        example = examples.get(name) or {}
        snippet = _md_escape(example.get("snippet") or "")
        closest = example.get("closest")
        lines.append(f"| `{name}` | {count} | {best_counts.get(name, 0)} | "
                     f"{'`' + closest + '`' if closest else '–'} | `{snippet}` |")
    lines.append("")
    return lines


def plot_metrics(path: Path, rows: list[dict]) -> None:
    """Each rate metric against training step, one panel each (the base model at step 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [m for m in PLOTTED if any(isinstance(r.get(m), (int, float)) for r in rows)]
    names += sorted({k for r in rows for k in r if k.startswith("pass@")
                     and isinstance(r.get(k), (int, float))})
    known_steps = [r["step"] for r in rows if isinstance(r.get("step"), int)]
    last = max(known_steps, default=0)
    xs = [r["step"] if isinstance(r.get("step"), int) else last + 1 for r in rows]
    panels = max(1, len(names))
    cols = min(2, panels)
    nrows = math.ceil(panels / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.5 * cols, 3.4 * nrows), squeeze=False)
    for ax in axes.flat[panels:]:
        ax.set_visible(False)
    if not names:
        axes[0][0].text(0.5, 0.5, "no metric values yet", ha="center", va="center")
    for ax, name in zip(axes.flat, names):
        points = [(x, r.get(name), r) for x, r in zip(xs, rows) if isinstance(r.get(name), (int, float))]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o")
        for x, y, r in points:
            if r.get("kind") in ("base", "final"):
                ax.annotate(r["kind"], (x, y), textcoords="offset points", xytext=(0, 6),
                            ha="center", fontsize=7)
        ax.set_title(name)
        ax.set_xlabel("training step")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
