"""``pass_at_k``: functional correctness of completions of problems with tests.

Each completion becomes a program (prompt + completion cut at the first stop token + tests) run in
the sandbox (:mod:`luacoder_eval.sandbox`). For a problem with ``n`` samples of which ``c`` pass,
pass@k is the unbiased estimator of Chen et al. (2021), ``1 - C(n-c, k) / C(n, k)``, computed in
the numerically stable product form; the reported figure is the mean over the problems that have
at least ``k`` samples (``None`` when none has).
"""

from __future__ import annotations

from typing import Any

from luacoder_core.components import Metric


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` samples drawn from ``n`` (``c`` correct) passes."""
    if k <= 0 or n < k:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if c < 0 or c > n:
        raise ValueError(f"c must be within 0..n, got c={c}, n={n}")
    if n - c < k:
        return 1.0
    # 1 - prod_{i=n-c+1}^{n} (1 - k/i): no huge binomials
    prob_all_fail = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_fail *= 1.0 - k / i
    return 1.0 - prob_all_fail


class PassAtK(Metric):
    """pass@k of completions run against the problems' tests in the Lua sandbox."""

    summary = "Functional correctness: pass@k of completions run with their tests in a Lua sandbox."
    requires = ("problems",)
    #: plus ``pass@K`` for every K asked for
    provides = ("exec_problems", "exec_programs", "exec_passed")

    def compute(self, samples: list[dict], context: dict) -> dict[str, Any]:
        """``samples``: dicts with ``name`` and ``output`` (a completion) or ``completions``;
        ``context["problems"]``: name -> problem; options ``ks``, ``workers``, ``timeout``,
        ``max_memory_mb``, ``lua_version`` in ``context``."""
        from luacoder_eval.execution import evaluate, group_completions

        report = evaluate(context["problems"], group_completions(samples),
                          ks=context.get("ks", (1,)), workers=context.get("workers"),
                          timeout=context.get("timeout", 5.0),
                          max_memory_mb=context.get("max_memory_mb", 256),
                          lua_version=str(context.get("lua_version", "5.4")))
        context["exec_report"] = report  # the sweep keeps per-program verdicts for report.html
        return report.metrics()
