"""Metrics computed on generations: ``api_match``, ``syntax``, ``arity`` and ``pass_at_k``.

Each is a :class:`luacoder_core.components.Metric`; ``requires`` names the context keys it needs
(``api``, ``problems``), so a scorer runs only the metrics its inputs allow.
"""

from luacoder_eval.metrics.api_match import ApiMatch
from luacoder_eval.metrics.arity import Arity
from luacoder_eval.metrics.pass_at_k import PassAtK, pass_at_k
from luacoder_eval.metrics.syntax import Syntax

__all__ = ["ApiMatch", "Arity", "PassAtK", "Syntax", "pass_at_k"]
