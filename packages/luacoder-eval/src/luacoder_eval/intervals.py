"""95% intervals for the figures a report shows, so each says how much evidence it rests on.

* accuracies that are proportions of counted items (``api_match_accuracy``: matched references /
  references; ``syntax_valid_rate``: valid samples / samples): the Wilson score interval;
* means over items (pass@k over problems, ``macro_accuracy`` over samples with references): a
  normal approximation (mean +- 1.96 standard errors), clipped to [0, 1].

Rows carry them as ``<metric>_ci95: [low, high]`` (results.json); tables print them in brackets.
"""

from __future__ import annotations

import math


def wilson_interval(successes: int, n: int, z: float = 1.96) -> list[float] | None:
    """The Wilson score interval of a proportion (95% for z = 1.96); None when n is 0."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # the interval holds p; say so exactly despite rounding (p = 1 gives centre + half = 1 - 1e-16)
    return [max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))]


def mean_interval(values: list[float], z: float = 1.96) -> list[float] | None:
    """A normal-approximation interval of a mean over items (problems, samples), clipped to
    [0, 1]; None for no items. With a single item it is [value, value] (no spread to measure)."""
    n = len(values)
    if n == 0:
        return None
    mean = sum(values) / n
    if n == 1:
        return [mean, mean]
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = z * math.sqrt(var / n)
    return [max(0.0, min(mean, mean - half)), min(1.0, max(mean, mean + half))]
