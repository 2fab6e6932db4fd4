"""``luacoder eval run CONFIG.yaml``: the checkpoint sweep.

Finds every ``checkpoint-N`` folder below ``base_folder`` plus the final model(s) (a folder whose
``luacoder.json`` says ``"final": true``, or any other folder holding a model), in step order,
with ``base_model`` first as a "before" row; generates from each, scores the generations, runs the
problems' tests when ``problems_path`` is set, and writes the outputs of :mod:`.report`.
A folder that is half written or not a model is listed as skipped with its reason. Re-running
skips the checkpoints already scored with the same settings unless ``--force``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import click
from luacoder_core.errors import ConfigError

from luacoder_eval.models import STEP_RE, luacoder_meta, model_problem

#: config keys of ``luacoder eval run``: key -> type (checked by luacoder_core.config.check_config)
SCHEMA: dict[str, Any] = {
    "base_folder": str,
    "api_path": str,
    "test_data_path": str,
    "report_type": str,
    "problems_path": str | None,
    "problems_limit": int | None,
    "prompts_limit": int | None,
    "prompt_column": str,
    "base_model": str | None,
    "output_dir": str | None,
    "max_new_tokens": int,
    "temperature": float,
    "top_p": float,
    "num_samples": int,
    "batch_size": int,
    "stop": list | str | None,
    "seed": int,
    "metric": str,
    "system_prompt": str | None,
    "backend": Literal["transformers", "vllm"],
    "dtype": str | None,
    "device": str,
    "threads": int | None,
    "exec_timeout": float,
    "exec_workers": int | None,
    "lua_version": Literal["5.3", "5.4"],
    "min_refs": int,
}
REQUIRED = ("base_folder", "api_path", "test_data_path", "report_type")
DEFAULTS: dict[str, Any] = {
    "problems_path": None, "problems_limit": None, "prompts_limit": None, "prompt_column": "prompt",
    "base_model": None, "output_dir": None, "max_new_tokens": 128, "temperature": 0.0,
    "top_p": 1.0, "num_samples": 1, "batch_size": 16, "stop": [], "seed": 0,
    "metric": "api_match_accuracy", "system_prompt": None, "backend": "transformers",
    "dtype": None, "device": "cpu", "threads": None, "exec_timeout": 5.0, "exec_workers": None,
    "lua_version": "5.4", "min_refs": 20,
}
_PASS_RE = re.compile(r"^pass@\d+$")


def echo(message: str) -> None:
    click.echo(message, err=True)


def known_metric_values(pm: Any) -> list[str] | None:
    """Every scalar a registered metric declares in ``provides``; None when some metric does not
    declare them (a third-party one), so any name must be accepted."""
    known: list[str] = []
    for entry in pm.registries.metrics:
        provides = getattr(entry.component, "provides", None)
        if provides is None:
            return None
        known.extend(p for p in provides if p not in known)
    return known


def resolve_config(raw: dict, source: str, output: str | None = None, pm: Any = None) -> dict:
    """Validate keys and types, fill defaults, check required keys."""
    from luacoder_core.config import check_config

    check_config(raw, SCHEMA, source=source)
    for key in REQUIRED:
        if raw.get(key) in (None, ""):
            raise ConfigError(f"missing required key '{key}'", file=source, key=key)
    config = {**DEFAULTS, **raw}
    if isinstance(config["stop"], str):
        config["stop"] = [config["stop"]]
    config["stop"] = [str(s) for s in config["stop"] or []]
    if output:
        config["output_dir"] = output
    if not config["output_dir"]:
        config["output_dir"] = str(Path(config["base_folder"]) / "eval")
    for key in ("num_samples", "batch_size", "max_new_tokens"):
        if config[key] < 1:
            raise ConfigError(f"'{key}' must be at least 1, got {config[key]}", file=source, key=key)
    if config["temperature"] < 0:
        raise ConfigError("'temperature' must be >= 0", file=source, key="temperature")
    known = known_metric_values(pm) if pm is not None else None
    metric = config["metric"]
    if known is not None and metric not in known and not _PASS_RE.match(metric):
        from luacoder_core.config import closest

        guess = closest(metric, known)
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise ConfigError(f"unknown metric '{metric}'{hint} (known: {', '.join(known)}, pass@K)",
                          file=source, key="metric")
    if config["backend"] == "vllm":
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise ConfigError("backend 'vllm' needs vLLM: pip install 'luacoder-eval[vllm]'",
                              file=source, key="backend")
    if not Path(config["base_folder"]).is_dir():
        raise ConfigError(f"base_folder '{config['base_folder']}' is not a folder", file=source,
                          key="base_folder")
    return config


# ------------------------------------------------------------------------------------------------
# Finding checkpoints
# ------------------------------------------------------------------------------------------------


@dataclass
class Candidate:
    name: str
    path: str
    step: int | None
    kind: str  # base | checkpoint | final
    problem: str | None = None


def _safe_name(rel: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "--", rel.replace(os.sep, "--")).strip("-") or "final"


def discover(base_folder: str | Path, *, base_model: str | None = None,
             exclude: list[str | Path] = ()) -> list[Candidate]:
    """Every checkpoint and final model below ``base_folder`` in step order (``base_model``
    first); ``problem`` says why a candidate cannot be used."""
    root = Path(base_folder).resolve()
    excluded = {Path(p).resolve() for p in exclude}
    checkpoints: list[Candidate] = []
    finals: list[Candidate] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and (here / d).resolve() not in excluded)
        rel = os.path.relpath(here, root)
        m = STEP_RE.match(here.name)
        if m and here != root:
            checkpoints.append(Candidate(_safe_name(rel), str(here), int(m.group(1)), "checkpoint",
                                         model_problem(here)))
            dirnames[:] = []  # a checkpoint's subfolders are its own business
            continue
        marks = {"luacoder.json", "config.json", "adapter_config.json"} & set(filenames)
        if not marks:
            continue
        meta = luacoder_meta(here)
        step = meta.get("step") if isinstance(meta.get("step"), int) else None
        if step is None:
            inner = [int(m2.group(1)) for d in dirnames if (m2 := STEP_RE.match(d))]
            step = max(inner) if inner else None
        name = "final" if here == root else _safe_name(rel)
        finals.append(Candidate(name, str(here), step, "final", model_problem(here)))
    ordered = sorted(checkpoints + finals,
                     key=lambda c: (c.step is None, c.step if c.step is not None else 0,
                                    c.kind == "final", c.name))
    if base_model:
        problem = model_problem(base_model) if Path(base_model).exists() else None
        ordered.insert(0, Candidate("base", base_model, 0, "base", problem))
    return ordered


# ------------------------------------------------------------------------------------------------
# The sweep
# ------------------------------------------------------------------------------------------------


def _file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    p = Path(path)
    files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
    for f in files:
        h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def fingerprint(config: dict, pm: Any) -> str:
    """What a row's numbers depend on besides the checkpoint: settings and input contents."""
    keys = ("report_type", "max_new_tokens", "temperature", "top_p", "num_samples", "stop", "seed",
            "system_prompt", "problems_limit", "prompts_limit", "prompt_column", "backend",
            "dtype", "base_model", "lua_version")
    payload = {k: config.get(k) for k in keys}
    payload["api"] = _file_digest(config["api_path"])
    payload["prompts"] = _file_digest(config["test_data_path"])
    if config.get("problems_path"):
        payload["problems"] = _file_digest(config["problems_path"])
    payload["metrics"] = pm.registries.metrics.names()
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def run_sweep(pm: Any, config: dict, *, force: bool = False) -> dict:
    """Run the sweep described by a resolved config; returns the ``results.json`` payload."""
    from luacoder_core.records import write_records

    from luacoder_eval import report as reports
    from luacoder_eval.api import load_api
    from luacoder_eval.execution import load_problems
    from luacoder_eval.models import ModelLoader
    from luacoder_eval.prompts import load_prompts, prompt_text
    from luacoder_eval.scoring import api_context, get_report_type, score_samples
    from luacoder_eval.textgen import GenSettings

    out_dir = Path(config["output_dir"])
    rtype = get_report_type(pm, config["report_type"])
    api = load_api(config["api_path"])
    prompts = load_prompts(config["test_data_path"], config["prompt_column"])
    if config["prompts_limit"]:
        prompts = prompts[: config["prompts_limit"]]
    problems = load_problems(config["problems_path"]) if config.get("problems_path") else None
    if problems is not None and config["problems_limit"]:
        problems = dict(list(problems.items())[: config["problems_limit"]])
    fp = fingerprint(config, pm)
    candidates = discover(config["base_folder"], base_model=config.get("base_model"),
                          exclude=[out_dir])
    results_path = out_dir / "results.json"
    previous: dict[str, dict] = {}
    if results_path.is_file() and not force:
        try:
            old = json.loads(results_path.read_text(encoding="utf-8"))
            previous = {r["checkpoint"]: r for r in old.get("rows", []) if isinstance(r, dict)}
        except (ValueError, KeyError, TypeError):
            echo(f"warning: {results_path} is unreadable; scoring every checkpoint again")
    settings = GenSettings(max_new_tokens=config["max_new_tokens"],
                           temperature=config["temperature"], top_p=config["top_p"],
                           num_samples=config["num_samples"], batch_size=config["batch_size"],
                           stop=config["stop"], seed=config["seed"],
                           chat=bool(getattr(rtype, "chat", False)),
                           system_prompt=config["system_prompt"])
    if config.get("threads"):
        import torch

        torch.set_num_threads(config["threads"])
    loader = ModelLoader(config.get("base_model"), config.get("dtype"), config.get("device", "cpu"))
    context = api_context(api)
    rows: list[dict] = []
    skipped: list[dict] = []
    usable = [c for c in candidates if c.problem is None]
    echo(f"eval: {len(candidates)} model folder(s) under {config['base_folder']}"
         f" ({len(usable)} usable), {len(prompts)} prompt(s) x {settings.num_samples} sample(s)"
         + (f", {len(problems)} problem(s)" if problems else "") + f" -> {out_dir}")

    def payload() -> dict:
        best = reports.pick_best(rows, config["metric"], int(config.get("min_refs") or 0))
        return {"metric": config["metric"], "best": best["checkpoint"] if best else None,
                "best_note": reports.too_little_evidence(rows, config["metric"],
                                                         int(config.get("min_refs") or 0)),
                "config": config, "fingerprint": fp, "rows": rows, "skipped": skipped}

    def save() -> None:
        reports.write_json(results_path, payload())
        reports.write_csv(out_dir / "results.csv", rows)

    for number, cand in enumerate(candidates, start=1):
        head = f"[{number}/{len(candidates)}] {cand.name}"
        if cand.problem is not None:
            echo(f"{head}: skipped: {cand.problem}")
            skipped.append({"checkpoint": cand.name, "path": cand.path, "reason": cand.problem})
            continue
        prev = previous.get(cand.name)
        gen_file = out_dir / "generations" / f"{cand.name}.jsonl"
        if (prev is not None and prev.get("fingerprint") == fp and prev.get("path") == cand.path
                and gen_file.is_file()):
            echo(f"{head}: already scored, skipped (use --force to score it again)")
            rows.append(prev)
            continue
        row: dict[str, Any] = {"checkpoint": cand.name, "step": cand.step, "kind": cand.kind}
        try:
            loaded = _load(loader, cand) if config["backend"] == "transformers" else None
        except Exception as exc:  # a model that cannot be loaded is skipped, the sweep goes on
            reason = f"failed to load: {type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
            echo(f"{head}: skipped: {reason}")
            skipped.append({"checkpoint": cand.name, "path": cand.path, "reason": reason})
            continue
        try:
            echo(f"{head}: generating{' (adapter on ' + loaded.base + ')' if loaded and loaded.adapter else ''}")
            try:
                out = _generate(config, loaded, cand, prompts, settings)
            except Exception as exc:  # a model that cannot generate is skipped like one that cannot load
                reason = f"generation failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
                echo(f"{head}: skipped: {reason}")
                skipped.append({"checkpoint": cand.name, "path": cand.path, "reason": reason})
                continue
            records = [{"prompt": prompt_text(p), "output": text, "checkpoint": cand.name,
                        "sample": s}
                       for p, texts in zip(prompts, out.texts) for s, text in enumerate(texts)]
            write_records(gen_file, records, kind="generation")
            t0 = time.monotonic()
            samples = [dict(r) for r in records]
            values = score_samples(pm, samples, rtype, context)
            row.update(values)
            row["score_seconds"] = round(time.monotonic() - t0, 3)
            row["gen_seconds"] = round(out.seconds, 3)
            row["new_tokens"] = out.new_tokens
            if problems:
                row.update(_exec(pm, config, loaded, cand, problems, settings, out_dir, echo_head=head))
        finally:
            if loaded is not None:
                loader.release(loaded)
        row.update({"path": cand.path, "adapter": bool(loaded and loaded.adapter),
                    "fingerprint": fp, "generations": str(gen_file)})
        echo(f"{head}: " + ", ".join(f"{k}={reports._fmt(row.get(k))}"
                                      for k in (config["metric"], "syntax_valid_rate") if k in row)
             + f" ({row['gen_seconds']}s generating, {row['score_seconds']}s scoring)")
        rows.append(row)
        save()
    save()
    reports.write_text_atomic(out_dir / "report.md",
                              reports.render_report(rows, skipped, config["metric"], config))
    reports.plot_metrics(out_dir / "metrics.png", rows)
    from luacoder_eval.model_cards import update_cards

    update_cards(rows, config, echo)  # scores into each checkpoint's README.md (model-index)
    result = payload()
    _write_html(out_dir, result, rtype, api)
    if result["best"] is not None:
        best_row = reports.pick_best(rows, config["metric"], int(config.get("min_refs") or 0)) or {}
        echo(f"best checkpoint: {result['best']} ({config['metric']}="
             f"{reports._fmt(best_row.get(config['metric']))})")
    else:
        echo(f"no best checkpoint: {result.get('best_note') or 'no checkpoint has a value for ' + config['metric']}")
    echo(f"wrote {out_dir / 'report.md'}, report.html, results.csv, results.json, metrics.png")
    if not rows:
        from luacoder_core.errors import RunFailed

        raise RunFailed(f"no checkpoint could be scored ({len(skipped)} skipped, see "
                        f"{out_dir / 'report.md'})")
    return result


def _write_html(out_dir: Path, result: dict, rtype: Any, api: Any) -> None:
    """``report.html`` (:mod:`.report_html`); a failure there is a warning, never lost results."""
    from luacoder_eval.report_html import write_report_html

    try:
        write_report_html(out_dir / "report.html", result, report_type=rtype, index=api.index)
    except Exception as exc:  # the Markdown report and results.json are already written
        echo(f"warning: report.html not written: {type(exc).__name__}: {exc}")


def _load(loader: Any, cand: Candidate) -> Any:
    from luacoder_eval.models import LoadedModel

    if cand.kind == "base":
        model, tokenizer = loader.base(cand.path)
        return LoadedModel(model, tokenizer, cand.path)
    return loader.load(cand.path)


def _progress(label: str):
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] > 2.0:
            last[0] = now
            click.echo(f"  {label} {done}/{total}", err=True)

    return report


def _generate(config: dict, loaded: Any, cand: Candidate, prompts: list, settings: Any) -> Any:
    from luacoder_eval.textgen import generate, generate_vllm

    if config["backend"] == "vllm":  # pragma: no cover - needs vLLM and a GPU
        adapter = cand.path if (Path(cand.path) / "adapter_config.json").is_file() else None
        model_path = config.get("base_model") if adapter else cand.path
        return generate_vllm(model_path, prompts, settings, adapter=adapter)
    return generate(loaded.model, loaded.tokenizer, prompts, settings,
                    progress=_progress("generated"))


def _exec(pm: Any, config: dict, loaded: Any, cand: Candidate, problems: dict, settings: Any,
          out_dir: Path, echo_head: str) -> dict:
    """Generate completions for the problems (raw continuation, their stop tokens) and run
    them."""
    from dataclasses import replace

    from luacoder_eval.textgen import GenOutput

    groups: dict[tuple[str, ...], list[str]] = {}
    for name, problem in problems.items():
        groups.setdefault(tuple(problem.get("stop_tokens") or ()), []).append(name)
    completions: dict[str, list[str]] = {}
    start = time.monotonic()
    for stops, names in groups.items():
        exec_settings = replace(settings, chat=False, stop=list(stops), system_prompt=None)
        out: GenOutput = _generate(config, loaded, cand, [problems[n]["prompt"] for n in names],
                                   exec_settings)
        completions.update(zip(names, out.texts))
    gen_seconds = time.monotonic() - start
    from luacoder_core.records import write_text_atomic

    write_text_atomic(out_dir / "generations" / f"{cand.name}.problems.jsonl",
                      "".join(json.dumps({"name": n, "completions": c}, ensure_ascii=False) + "\n"
                              for n, c in completions.items()))
    ks = sorted({1, settings.num_samples} | ({10} if settings.num_samples >= 10 else set()))
    echo(f"{echo_head}: running {sum(len(c) for c in completions.values())} program(s) in the sandbox")
    samples = [{"name": n, "completions": c} for n, c in completions.items()]
    context = {"problems": problems, "ks": ks, "workers": config.get("exec_workers"),
               "timeout": config.get("exec_timeout", 5.0),
               "lua_version": config.get("lua_version", "5.4")}
    values: dict[str, Any] = {}
    start = time.monotonic()
    for entry in pm.registries.metrics:
        if "problems" in tuple(getattr(entry.component, "requires", ()) or ()):
            values.update(entry.component.compute(samples, context))
    values["exec_seconds"] = round(time.monotonic() - start + gen_seconds, 3)
    if context.get("exec_report") is not None:  # per-program verdicts, for report.html
        write_text_atomic(out_dir / "generations" / f"{cand.name}.exec.jsonl", "".join(
            json.dumps({**p, "completions": completions.get(p["name"], [])}, ensure_ascii=False) + "\n"
            for p in context["exec_report"].as_dict()["per_problem"]))
    return values


def load_and_run(pm: Any, config_path: str, overrides: tuple[str, ...], *, force: bool,
                 output: str | None) -> dict:
    from luacoder_core.config import load_config

    raw = load_config(config_path, overrides)
    config = resolve_config(raw, config_path, output, pm)
    return run_sweep(pm, config, force=force)


__all__ = ["SCHEMA", "Candidate", "discover", "load_and_run", "resolve_config", "run_sweep"]
