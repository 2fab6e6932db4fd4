"""Decontamination: drop training samples that share a token n-gram with evaluation problems.

As in StarCoder's and the Pile's decontamination, text is split into word tokens and any shared
n-gram (10 tokens by default) with an evaluation problem's prompt or tests marks the sample.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from luacoder_core.errors import InputError
from luacoder_core.records import Malformed

from luacoder_data.inputs import iter_input

WORD_RE = re.compile(r"\w+")
EVAL_TEXT_FIELDS = ("prompt", "tests", "canonical_solution", "solution", "test", "content", "code")


def ngrams(tokens: list[str], n: int) -> Iterable[tuple[str, ...]]:
    return zip(*(tokens[i:] for i in range(n)))


class Contamination:
    """The n-grams of evaluation problems; :meth:`find` names the problem a text overlaps."""

    def __init__(self, n: int = 10) -> None:
        if n < 1:
            raise InputError(f"--decontaminate-ngram must be >= 1, got {n}")
        self.n = n
        self.grams: dict[tuple[str, ...], str] = {}
        self.problems = 0

    def add_problem(self, name: str, text: str) -> None:
        self.problems += 1
        for gram in ngrams(WORD_RE.findall(text), self.n):
            self.grams.setdefault(gram, name)

    def add_file(self, path: str | Path) -> None:
        for item in iter_input(path):
            if isinstance(item, Malformed) or not isinstance(item.record, dict):
                continue
            record = item.record
            text = "\n".join(str(record[f]) for f in EVAL_TEXT_FIELDS
                             if isinstance(record.get(f), str))
            if not text:
                raise InputError(f"an evaluation problem needs one of {', '.join(EVAL_TEXT_FIELDS)}",
                                 file=item.file, line=item.line)
            self.add_problem(str(record.get("name") or record.get("task_id") or item.where), text)

    def find(self, text: str) -> str | None:
        """The name of an evaluation problem sharing an n-gram with ``text``, or None."""
        if not self.grams:
            return None
        tokens = WORD_RE.findall(text)
        grams = self.grams
        if grams.keys().isdisjoint(ngrams(tokens, self.n)):
            return None
        for gram in ngrams(tokens, self.n):
            if gram in grams:
                return grams[gram]
        return None  # pragma: no cover
