"""Score the API names a converter found against a hand-made list of expected names.

Used by ``benchmarks/score_api_docs.py`` and the development-set tests. The counting follows
``../shared/data/docs/real/README.md``: a found name matches an expected one when it is equal,
or when it is the expected name less a module prefix (``clear`` for ``M.clear``,
``narrow`` for ``Tensor:narrow``) - a prefix the document did not write at the entry. A found
name that is not expected, even under a prefix, is a false positive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field


def _suffixes(name: str) -> list[str]:
    """``a.b:c`` -> ``["a.b:c", "b:c", "c"]`` (each shorter form the name may be written as)."""
    out = [name]
    for m in re.finditer(r"[.:]", name):
        out.append(name[m.end():])
    return out


@dataclass
class NameScore:
    expected: int
    found: int
    matched: int
    exact: int
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return (self.found - len(self.extra)) / self.found if self.found else 1.0

    @property
    def exact_recall(self) -> float:
        return self.exact / self.expected if self.expected else 1.0


def score_names(found: Iterable[str], expected: Iterable[str]) -> NameScore:
    """Recall and precision of ``found`` (distinct names) against ``expected``."""
    found_set = list(dict.fromkeys(found))
    expected_list = list(dict.fromkeys(n.strip() for n in expected if n.strip()))
    by_form: dict[str, list[str]] = {}
    for name in expected_list:
        for form in _suffixes(name):
            by_form.setdefault(form, []).append(name)
    matched: set[str] = set()
    exact: set[str] = set()
    extra: list[str] = []
    for name in found_set:
        if name in by_form and name in expected_list:
            matched.add(name)
            exact.add(name)
            continue
        owners = [e for e in by_form.get(name, []) if e not in matched]
        if owners:
            matched.add(owners[0])
        elif name in by_form:
            pass  # a second short form of a name already matched: neither right nor wrong
        else:
            extra.append(name)
    missing = [n for n in expected_list if n not in matched]
    return NameScore(expected=len(expected_list), found=len(found_set), matched=len(matched),
                     exact=len(exact), missing=missing, extra=extra)
