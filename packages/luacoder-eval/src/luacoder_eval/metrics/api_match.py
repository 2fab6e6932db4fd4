"""``api_match``: DESIGN.md's API match accuracy, exactly.

Per sample: references are collected from every Lua chunk the report type found
(``luacoder_core.lua.extract_references`` with the documented roots, then DESIGN.md's bare-name
rule: a one-segment name counts only when it is itself a documented name, not the root of longer
ones, so ``local tween = require("tween")`` or an inline `` `tween` `` is no reference),
deduplicated by name within the sample, and each distinct name matches when ``ApiIndex.matches`` says it is documented (equal
to a documented name, or a prefix of one at a dot boundary).

* ``api_match_accuracy`` = matched / references, summed over all samples (micro); ``None`` when no
  sample has a reference;
* ``macro_accuracy`` = mean of per-sample accuracy over the samples with at least one reference
  (``None`` when there are none);
* ``refs_total``, ``refs_matched``, ``samples``, ``samples_with_refs`` (the evidence);
* ``api_match_accuracy_ci95`` (Wilson over references) and ``macro_accuracy_ci95`` (normal
  approximation over samples): 95% intervals, ``[low, high]`` or None;
* ``hallucinated``: unmatched name -> number of samples it appeared in (most frequent first);
* ``hallucinated_examples``: unmatched name -> the first line of code that used it and the
  closest documented name.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from luacoder_core.components import Metric

SNIPPET_CHARS = 160


def snippet(chunk: str, line: int) -> str:
    lines = chunk.splitlines()
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 3] + "..."


def sample_references(chunks: list[str], index: Any) -> dict[str, tuple[str, int]]:
    """Distinct reference names of one sample -> (chunk, line) of their first occurrence.

    ``index`` is the :class:`~luacoder_core.lua.ApiIndex` (DESIGN.md's bare-name rule applies: a
    one-segment name counts only when it is itself documented and not the root of longer
    names); a plain set of roots gives every chain, bare roots included."""
    from luacoder_core.lua import extract_references

    refs: dict[str, tuple[str, int]] = {}
    for chunk in chunks:
        if hasattr(index, "references"):
            found = index.references(chunk)
        else:
            found = extract_references(chunk, index)
        for ref in found:
            refs.setdefault(ref.name, (chunk, ref.line))
    return refs


class ApiMatch(Metric):
    """Share of referenced API names that are documented (DESIGN.md), micro and macro."""

    summary = "API match accuracy (DESIGN.md): documented references / references, micro and macro."
    requires = ("api",)
    #: the scalar values it returns (a sweep's ``metric`` may name one)
    provides = ("api_match_accuracy", "macro_accuracy", "refs_total", "refs_matched", "samples",
                "samples_with_refs")

    def compute(self, samples: list[dict], context: dict) -> dict[str, Any]:
        index = context["api"]
        total = matched = 0
        per_sample: list[float] = []
        hallucinated: Counter[str] = Counter()
        examples: dict[str, dict[str, Any]] = {}
        for sample in samples:
            refs = sample_references(sample.get("code") or [], index)
            if not refs:
                continue
            good = 0
            for name, (chunk, line) in refs.items():
                if index.matches(name):
                    good += 1
                    continue
                hallucinated[name] += 1
                if name not in examples:
                    examples[name] = {"snippet": snippet(chunk, line), "closest": index.closest(name),
                                      "file": sample.get("file"), "line": sample.get("line")}
            total += len(refs)
            matched += good
            per_sample.append(good / len(refs))
        from luacoder_eval.intervals import mean_interval, wilson_interval

        ordered = dict(sorted(hallucinated.items(), key=lambda kv: (-kv[1], kv[0])))
        return {
            "api_match_accuracy": matched / total if total else None,
            "api_match_accuracy_ci95": wilson_interval(matched, total),
            "macro_accuracy": sum(per_sample) / len(per_sample) if per_sample else None,
            "macro_accuracy_ci95": mean_interval(per_sample),
            "refs_total": total,
            "refs_matched": matched,
            "samples": len(samples),
            "samples_with_refs": len(per_sample),
            "hallucinated": ordered,
            "hallucinated_examples": {name: examples[name] for name in ordered},
        }
