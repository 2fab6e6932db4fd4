"""Functional correctness: MultiPL-E problems, their completions, the sandbox, pass@k.

Problems are MultiPL-E's records (``name``, ``prompt``, ``tests``, ``stop_tokens``). Generations
are ``{"name", "completions": [...]}`` or one ``{"name", "completion"}`` (or ``output``) per line;
several lines with one name add up. The program of one completion is MultiPL-E's:
``prompt + completion cut at the first stop token + "\\n" + tests``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luacoder_core.errors import InputError

from luacoder_eval.metrics.pass_at_k import pass_at_k
from luacoder_eval.sandbox.runtime import FAILURE_KINDS, ExecResult, Limits, Program


def load_problems(path: str | Path) -> dict[str, dict]:
    """name -> problem, in file order; every problem needs ``name``, ``prompt`` and ``tests``."""
    from luacoder_core.records import Sourced, iter_records

    problems: dict[str, dict] = {}
    for item in iter_records(path):
        assert isinstance(item, Sourced)
        record = item.record
        if not isinstance(record, dict):
            raise InputError("a problem must be a JSON object", file=item.file, line=item.line)
        for key in ("name", "prompt", "tests"):
            if not isinstance(record.get(key), str):
                raise InputError(f"a problem needs a string '{key}'", file=item.file,
                                 line=item.line, key=key)
        stops = record.get("stop_tokens") or []
        if isinstance(stops, str):
            stops = [stops]
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise InputError("'stop_tokens' must be a list of strings", file=item.file,
                             line=item.line, key="stop_tokens")
        if record["name"] in problems:
            raise InputError(f"problem '{record['name']}' appears twice", file=item.file,
                             line=item.line, key="name")
        problems[record["name"]] = {**record, "stop_tokens": stops}
    if not problems:
        raise InputError("no problems in this file", file=str(path))
    return problems


def cut_at_stop(text: str, stops: list[str] | tuple[str, ...]) -> str:
    """``text`` up to the earliest occurrence of any stop sequence."""
    end = len(text)
    for stop in stops:
        if stop:
            at = text.find(stop)
            if 0 <= at < end:
                end = at
    return text[:end]


def build_program(problem: dict, completion: str) -> Program:
    """MultiPL-E's program (``prompt + completion cut at the first stop token + "\\n" + tests``)
    and where its tests start (what lets the sandbox tell the tests' own code from the
    completion's)."""
    code = problem["prompt"] + cut_at_stop(completion, problem.get("stop_tokens") or [])
    return Program.of(code, problem["tests"])


def group_completions(samples: list[dict]) -> dict[str, list[str]]:
    """name -> completions from records with ``completions`` (a list), ``completion`` or
    ``output``."""
    grouped: dict[str, list[str]] = {}
    for sample in samples:
        name = sample.get("name")
        if "completions" in sample and isinstance(sample["completions"], list):
            texts = sample["completions"]
        elif "completion" in sample:
            texts = [sample["completion"]]
        else:
            texts = [sample.get("output")]
        grouped.setdefault(str(name), []).extend("" if t is None else str(t) for t in texts)
    return grouped


def read_exec_generations(path: str | Path, problems: dict[str, dict]) -> dict[str, list[str]]:
    """Completions per problem from a JSONL/JSON generations file; names must be known."""
    path = Path(path)
    if not path.exists():
        raise InputError("generations file not found", file=str(path))
    if path.is_dir():
        raise InputError("is a folder, expected a generations file", file=str(path))
    data = path.read_bytes()
    rows: list[tuple[int, Any]] = []
    text_all = data.decode("utf-8", "replace")
    if text_all.lstrip().startswith("["):
        try:
            records = json.loads(text_all)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=str(path),
                             line=exc.lineno) from exc
        rows = list(enumerate(records if isinstance(records, list) else [records], start=1))
    else:
        for lineno, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            line = raw.decode("utf-8", "replace")
            try:
                rows.append((lineno, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=str(path),
                                 line=lineno) from exc
    grouped: dict[str, list[str]] = {}
    for lineno, record in rows:
        if not isinstance(record, dict):
            raise InputError("a generation must be a JSON object", file=str(path), line=lineno)
        name = record.get("name")
        if not isinstance(name, str):
            raise InputError("a generation needs the problem's 'name'", file=str(path), line=lineno,
                             key="name")
        if name not in problems:
            from luacoder_core.config import closest

            guess = closest(name, problems)
            hint = f"; did you mean '{guess}'?" if guess else ""
            raise InputError(f"unknown problem '{name}'{hint}", file=str(path), line=lineno, key="name")
        if "completions" in record:
            texts = record["completions"]
            if not isinstance(texts, list):
                raise InputError("'completions' must be a list of strings", file=str(path),
                                 line=lineno, key="completions")
        elif "completion" in record or "output" in record:
            texts = [record.get("completion", record.get("output"))]
        else:
            raise InputError("a generation needs 'completions' or 'completion'", file=str(path),
                             line=lineno, key="completion")
        grouped.setdefault(name, []).extend("" if t is None else str(t) for t in texts)
    return grouped


@dataclass
class ProblemResult:
    name: str
    n: int
    c: int
    results: list[ExecResult]
    pass_at: dict[int, float | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        kinds = Counter(r.kind for r in self.results if not r.passed)
        return {
            "name": self.name, "n": self.n, "c": self.c,
            **{f"pass@{k}": v for k, v in self.pass_at.items()},
            "failures": dict(kinds),
            "samples": [{"passed": r.passed, "kind": r.kind, "message": r.message[:500],
                         "seconds": round(r.seconds, 4)} for r in self.results],
        }


@dataclass
class ExecReport:
    problems: list[ProblemResult]
    ks: tuple[int, ...]
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def programs(self) -> int:
        return sum(p.n for p in self.problems)

    def pass_at(self, k: int) -> float | None:
        values = [p.pass_at[k] for p in self.problems if p.pass_at.get(k) is not None]
        return sum(values) / len(values) if values else None

    def failure_kinds(self) -> dict[str, int]:
        counts = Counter(r.kind for p in self.problems for r in p.results if not r.passed)
        return {kind: counts[kind] for kind in FAILURE_KINDS if counts.get(kind)}

    def metrics(self) -> dict[str, Any]:
        """The figures a results row carries."""
        from luacoder_eval.intervals import mean_interval

        out: dict[str, Any] = {f"pass@{k}": self.pass_at(k) for k in self.ks}
        for k in self.ks:  # 95% interval: normal approximation over problems
            values = [p.pass_at[k] for p in self.problems if p.pass_at.get(k) is not None]
            out[f"pass@{k}_ci95"] = mean_interval(values)
        out["exec_problems"] = len(self.problems)
        out["exec_programs"] = self.programs
        out["exec_passed"] = sum(p.c for p in self.problems)
        out["exec_failures"] = self.failure_kinds()
        return out

    def as_dict(self) -> dict[str, Any]:
        return {**self.metrics(), "missing": self.missing, "seconds": round(self.seconds, 3),
                "programs_per_second": (self.programs / self.seconds) if self.seconds else None,
                "per_problem": [p.as_dict() for p in self.problems]}


def evaluate(problems: dict[str, dict], completions: dict[str, list[str]], *,
             ks: tuple[int, ...] | list[int] = (1,), workers: int | None = None,
             timeout: float = 5.0, max_memory_mb: int = 256, lua_version: str = "5.4",
             limits: Limits | None = None, progress=None) -> ExecReport:
    """Run every completion of every problem in the sandbox (Lua ``lua_version``: "5.3" or
    "5.4"); pass@k per problem and overall."""
    import time

    from luacoder_eval.sandbox.pool import run_programs

    limits = limits or Limits(timeout=timeout, max_memory_mb=max_memory_mb, lua_version=lua_version)
    names = [name for name in problems if name in completions]
    missing = [name for name in problems if name not in completions]
    programs: list[Program] = []
    owners: list[str] = []
    for name in names:
        for completion in completions[name]:
            programs.append(build_program(problems[name], completion))
            owners.append(name)
    start = time.monotonic()
    results = run_programs(programs, limits, workers=workers, progress=progress)
    seconds = time.monotonic() - start
    by_name: dict[str, list[ExecResult]] = {name: [] for name in names}
    for owner, result in zip(owners, results):
        by_name[owner].append(result)
    ks = tuple(sorted(set(int(k) for k in ks)))
    problem_results = []
    for name in names:
        rs = by_name[name]
        n, c = len(rs), sum(r.passed for r in rs)
        pr = ProblemResult(name, n, c, rs)
        pr.pass_at = {k: (pass_at_k(n, c, k) if n >= k else None) for k in ks}
        problem_results.append(pr)
    return ExecReport(problem_results, ks, missing, seconds)
