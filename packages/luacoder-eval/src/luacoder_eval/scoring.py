"""Score generations with the registered report type and metrics (``luacoder eval score``)."""

from __future__ import annotations

import time
from typing import Any

from luacoder_core.errors import InputError

#: the order results are listed in (anything else a metric returns follows)
METRIC_ORDER = ("api_match_accuracy", "macro_accuracy", "refs_total", "refs_matched", "samples",
                "samples_with_refs", "hallucinated", "syntax_valid_rate", "syntax_valid",
                "samples_with_code", "arity_ok_rate", "arity_checked", "arity_mismatches")


def get_report_type(pm: Any, name: str) -> Any:
    registry = pm.registries.report_types
    if name not in registry:
        from luacoder_core.config import closest

        guess = closest(name, registry.names())
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise InputError(f"unknown report type '{name}'{hint} (installed: "
                         f"{', '.join(registry.names()) or 'none'})")
    return registry.get(name)


def split_code(report_type: Any, text: str) -> tuple[list[str], list[str]]:
    """``(chunks for references, chunks for the syntax check)`` of one generation."""
    split = getattr(report_type, "split", None)
    if split is not None:
        return split(text)
    code = report_type.extract_code(text)
    return code, code


def prepare(samples: list[dict], report_type: Any) -> list[dict]:
    """Add ``code`` and ``blocks`` to every sample (in place) and return the list."""
    for sample in samples:
        sample["code"], sample["blocks"] = split_code(report_type, sample.get("output") or "")
    return samples


def text_metrics(pm: Any, context: dict) -> list[tuple[str, Any]]:
    """The registered metrics that score generated text and whose needs ``context`` meets."""
    chosen = []
    for entry in pm.registries.metrics:
        requires = tuple(getattr(entry.component, "requires", ()) or ())
        if "problems" in requires:
            continue
        if all(key in context for key in requires):
            chosen.append((entry.name, entry.component))
    return chosen


def order_metrics(values: dict[str, Any]) -> dict[str, Any]:
    ordered = {k: values[k] for k in METRIC_ORDER if k in values}
    ordered.update({k: v for k, v in values.items() if k not in ordered})
    return ordered


def score_samples(pm: Any, samples: list[dict], report_type: Any, context: dict,
                  metrics: list[tuple[str, Any]] | None = None) -> dict[str, Any]:
    """Run every applicable metric on ``samples`` and merge their values."""
    prepare(samples, report_type)
    values: dict[str, Any] = {}
    for _name, metric in (metrics if metrics is not None else text_metrics(pm, context)):
        values.update(metric.compute(samples, context))
    values.setdefault("samples", len(samples))
    return order_metrics(values)


def api_context(api: Any) -> dict[str, Any]:
    """The context keys an :class:`luacoder_eval.api.Api` provides to metrics."""
    return {"api": api.index, "api_records": api.records, "api_arity": api.arity}


def score_file(pm: Any, *, api_path: str, generations_path: str, report_type: str,
               column: str = "output") -> dict[str, Any]:
    """``luacoder eval score``: read, score, return the metrics plus reader notes."""
    from luacoder_eval.api import load_api
    from luacoder_eval.generation_files import read_generations

    start = time.monotonic()
    rtype = get_report_type(pm, report_type)
    api = load_api(api_path)
    gens = read_generations(generations_path, column)
    values = score_samples(pm, gens.samples, rtype, api_context(api))
    values["undecodable"] = gens.undecodable
    values["truncated"] = gens.truncated
    values["seconds"] = round(time.monotonic() - start, 3)
    return values
