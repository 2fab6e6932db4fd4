"""The ``luacoder eval`` commands: ``score``, ``exec``, ``run``, ``generate``, ``chat`` and
``serve`` (:mod:`luacoder_eval.serve.cli`).

Only click and luacoder_core are imported here (``luacoder --help`` stays fast); each command
imports the modules it needs when it runs.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from luacoder_core.errors import InputError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _print_scores(values: dict[str, Any]) -> None:
    scalars = {k: v for k, v in values.items()
               if not isinstance(v, (dict, list)) and k not in ("seconds",)}
    width = max(len(k) for k in scalars) if scalars else 10
    for key, value in scalars.items():
        extra = ""
        interval = values.get(f"{key}_ci95")
        if isinstance(interval, list) and len(interval) == 2:
            extra = f"  95% CI [{interval[0]:.3f}, {interval[1]:.3f}]"
        if key == "api_match_accuracy":
            extra += (f"  ({values.get('refs_matched')}/{values.get('refs_total')} references in "
                      f"{values.get('samples_with_refs')} samples)")
        elif key == "syntax_valid_rate":
            extra += f"  ({values.get('syntax_valid')}/{values.get('samples')} samples)"
        elif key == "arity_ok_rate" and values.get("arity_checked"):
            extra = (f"  ({values.get('arity_checked', 0) - values.get('arity_mismatches', 0)}/"
                     f"{values.get('arity_checked')} calls)")
        click.echo(f"{key:<{width}}  {_fmt(value)}{extra}")
    hallucinated = values.get("hallucinated") or {}
    if hallucinated:
        top = list(hallucinated.items())[:10]
        click.echo(f"hallucinated ({len(hallucinated)} names): "
                   + ", ".join(f"{name} x{count}" for name, count in top)
                   + (" ..." if len(hallucinated) > 10 else ""))
    mismatched = values.get("arity_mismatched") or {}
    if mismatched:
        click.echo("arity mismatches: " + ", ".join(f"{n} x{c}" for n, c in list(mismatched.items())[:10]))
    click.echo(f"({values.get('seconds', 0)}s)")


def _parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise click.BadParameter(f"expected a comma list of integers, got '{text}'") from None
    if not ks or ks[0] < 1:
        raise click.BadParameter("k must be at least 1")
    return ks


def add_commands(cli: click.Group) -> None:
    group = cli.commands["eval"]
    pm = cli.pm  # type: ignore[attr-defined]

    @group.command("score", context_settings=CONTEXT_SETTINGS)
    @click.option("--api", "api_path", required=True, metavar="API",
                  help="API records: one JSON/JSONL file or a folder of them.")
    @click.option("--generations", "generations", required=True, metavar="GENS",
                  help="Generations to score: JSONL, JSON, CSV or Parquet.")
    @click.option("--report-type", required=True, metavar="code|markdown",
                  help="How Lua is read from each generation (code: all of it; markdown: its "
                       "lua/untagged code blocks and inline code).")
    @click.option("--column", default="output", show_default=True,
                  help="The field or CSV column holding the generated text.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    def score(api_path: str, generations: str, report_type: str, column: str, as_json: bool) -> None:
        """Score existing generations against an API: API match accuracy (DESIGN.md), syntax
        validity and the arity of documented calls. No model needed."""
        from luacoder_eval.scoring import score_file

        values = score_file(pm, api_path=api_path, generations_path=generations,
                            report_type=report_type, column=column)
        if as_json:
            click.echo(json.dumps(values, ensure_ascii=False))
        else:
            _print_scores(values)

    @group.command("exec", context_settings=CONTEXT_SETTINGS)
    @click.option("--problems", required=True, metavar="PROBLEMS",
                  help="Problems in MultiPL-E's form (name, prompt, tests, stop_tokens).")
    @click.option("--generations", required=True, metavar="GENS",
                  help='JSONL: {"name", "completions": [...]} or {"name", "completion"} per line.')
    @click.option("-k", "ks", default="1,10", show_default=True, metavar="K,...",
                  help="pass@k values to report (a k above a problem's sample count is left out).")
    @click.option("--workers", type=click.IntRange(1), default=None,
                  help="Worker processes (default: one per CPU).")
    @click.option("--timeout", type=click.FloatRange(0.01), default=5.0, show_default=True,
                  help="Wall-clock seconds per program.")
    @click.option("--max-memory-mb", type=click.IntRange(1), default=256, show_default=True,
                  help="Lua memory per program.")
    @click.option("--lua-version", type=click.Choice(["5.3", "5.4"]), default="5.4", show_default=True,
                  help="Interpreter: Debian's lua5.3 or lua5.4 (published HumanEval-Lua figures "
                       "come from 5.3).")
    @click.option("--results", "results_path", default=None, metavar="FILE",
                  help="Also write per-problem results (JSONL) here.")
    @click.option("-v", "--verbose", is_flag=True, help="Print one line per problem.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object (with per-problem results).")
    def exec_cmd(problems: str, generations: str, ks: str, workers: int | None, timeout: float,
                 max_memory_mb: int, lua_version: str, results_path: str | None, verbose: bool,
                 as_json: bool) -> None:
        """Run completions against their problems' tests in a Lua sandbox: pass@k, per-problem
        results and failure kinds (syntax, runtime, assertion, timeout, memory, sandbox,
        early_exit, no_tests)."""
        from luacoder_eval.execution import evaluate, load_problems, read_exec_generations

        k_values = _parse_ks(ks)
        probs = load_problems(problems)
        completions = read_exec_generations(generations, probs)
        if not completions:
            raise InputError("no generations in this file", file=generations)
        total = sum(len(c) for c in completions.values())
        last = [0]

        def progress(done: int, count: int) -> None:
            if not as_json and (done == count or done - last[0] >= max(50, count // 10)):
                last[0] = done
                click.echo(f"  ran {done}/{count} programs", err=True)

        report = evaluate(probs, completions, ks=k_values, workers=workers, timeout=timeout,
                          max_memory_mb=max_memory_mb, lua_version=lua_version,
                          progress=progress if total > 50 else None)
        data = report.as_dict()
        if results_path:
            from luacoder_core.records import write_text_atomic

            write_text_atomic(results_path, "".join(json.dumps(p, ensure_ascii=False) + "\n"
                                                    for p in data["per_problem"]))
        if as_json:
            click.echo(json.dumps(data, ensure_ascii=False))
            return
        if verbose:
            for p in data["per_problem"]:
                kinds = ", ".join(f"{k} {v}" for k, v in p["failures"].items())
                click.echo(f"{p['name']}  {p['c']}/{p['n']} passed" + (f"  ({kinds})" if kinds else ""))
        rate = data["programs_per_second"]
        click.echo(f"problems {data['exec_problems']}, programs {data['exec_programs']}, "
                   f"passed {data['exec_passed']} ({data['seconds']}s, "
                   f"{_fmt(rate) if rate is None else f'{rate:.0f}'} programs/s)")
        if data["missing"]:
            click.echo(f"problems without generations: {len(data['missing'])}")
        for k in report.ks:
            interval = data.get(f"pass@{k}_ci95")
            ci = (f"  95% CI [{interval[0]:.3f}, {interval[1]:.3f}] (normal approximation over "
                  f"{data['exec_problems']} problems)" if interval else "")
            click.echo(f"pass@{k}  {_fmt(data.get(f'pass@{k}'))}{ci}")
        failures = data["exec_failures"]
        if failures:
            click.echo("failures: " + ", ".join(f"{kind} {n}" for kind, n in failures.items()))

    @group.command("run", context_settings=CONTEXT_SETTINGS)
    @click.argument("config", type=click.Path(dir_okay=False), metavar="CONFIG.yaml")
    @click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                  help="Override a config key (repeatable), e.g. --set num_samples=4.")
    @click.option("--force", is_flag=True, help="Score every checkpoint again, even those already scored.")
    @click.option("--output", default=None, metavar="DIR",
                  help="Output folder (default: output_dir, else <base_folder>/eval).")
    def run(config: str, overrides: tuple[str, ...], force: bool, output: str | None) -> None:
        """Sweep every checkpoint under base_folder: generate, score, report, pick the best.

        Writes generations/<checkpoint>.jsonl, results.csv, results.json, report.md and
        metrics.png to the output folder.

        \b
        Config keys (required first):
          base_folder, api_path, test_data_path, report_type (code|markdown);
          base_model, problems_path, problems_limit, output_dir, max_new_tokens,
          temperature, top_p, num_samples, batch_size, stop, seed, metric,
          prompt_column, prompts_limit, system_prompt, dtype, device, threads,
          backend (transformers|vllm), exec_timeout, exec_workers, lua_version (5.3|5.4),
          min_refs (least evidence to crown a best checkpoint)
        """
        from luacoder_eval.sweep import load_and_run

        result = load_and_run(pm, config, overrides, force=force, output=output)
        click.echo(f"best: {result['best']}" if result["best"] else "best: none")

    @group.command("generate", context_settings=CONTEXT_SETTINGS)
    @click.argument("model", metavar="MODEL")
    @click.option("--prompt", "prompt_texts", multiple=True, help="A prompt (repeatable).")
    @click.option("--prompts", "prompts_file", default=None, metavar="FILE",
                  help="Prompts: CSV with a prompt column, JSONL, or .txt (one per line).")
    @click.option("--chat", is_flag=True, help="Format prompts with the model's chat template.")
    @click.option("--system", "system_prompt", default=None, help="System prompt (with --chat).")
    @click.option("--max-new-tokens", type=click.IntRange(1), default=128, show_default=True)
    @click.option("--temperature", type=click.FloatRange(0), default=0.0, show_default=True,
                  help="0 is greedy decoding.")
    @click.option("--top-p", type=click.FloatRange(0, 1), default=1.0, show_default=True)
    @click.option("--num-samples", type=click.IntRange(1), default=1, show_default=True)
    @click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True)
    @click.option("--stop", multiple=True, help="Stop sequence (repeatable); output is cut there.")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--base-model", default=None, help="Base model of an adapter folder (default: "
                  "from luacoder.json or adapter_config.json).")
    @click.option("-o", "--output", default=None, metavar="FILE",
                  help="Write generation records (JSONL) here instead of printing.")
    def generate_cmd(model: str, prompt_texts: tuple[str, ...], prompts_file: str | None,
                     chat: bool, system_prompt: str | None, max_new_tokens: int,
                     temperature: float, top_p: float, num_samples: int, batch_size: int,
                     stop: tuple[str, ...], seed: int, base_model: str | None,
                     output: str | None) -> None:
        """Generate from MODEL (a base model, a checkpoint or an adapter folder)."""
        if bool(prompt_texts) == bool(prompts_file):
            raise click.UsageError("give --prompt TEXT (repeatable) or --prompts FILE")
        from luacoder_eval.prompts import load_prompts, prompt_text
        from luacoder_eval.textgen import GenSettings, generate

        prompts = list(prompt_texts) if prompt_texts else load_prompts(prompts_file)
        loaded = _load_model(model, base_model)
        settings = GenSettings(max_new_tokens=max_new_tokens, temperature=temperature,
                               top_p=top_p, num_samples=num_samples, batch_size=batch_size,
                               stop=list(stop), seed=seed, chat=chat, system_prompt=system_prompt)
        out = generate(loaded.model, loaded.tokenizer, prompts, settings)
        records = [{"prompt": prompt_text(p), "output": text, "checkpoint": model, "sample": s}
                   for p, texts in zip(prompts, out.texts) for s, text in enumerate(texts)]
        if output:
            from luacoder_core.records import write_records

            summary = write_records(output, records, kind="generation")
            click.echo(f"generate: {summary.line()} -> {output} ({out.seconds:.1f}s, "
                       f"{out.new_tokens} new tokens)", err=True)
            return
        if len(records) == 1:
            click.echo(records[0]["output"])
            return
        for i, record in enumerate(records):
            click.echo(f"### {i + 1}: {record['prompt'][:60]!r}")
            click.echo(record["output"])

    @group.command("chat", context_settings=CONTEXT_SETTINGS)
    @click.argument("model", metavar="MODEL")
    @click.option("--system", "system_prompt", default=None, help="System prompt.")
    @click.option("--max-new-tokens", type=click.IntRange(1), default=256, show_default=True)
    @click.option("--temperature", type=click.FloatRange(0), default=0.0, show_default=True)
    @click.option("--top-p", type=click.FloatRange(0, 1), default=1.0, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--base-model", default=None, help="Base model of an adapter folder.")
    def chat_cmd(model: str, system_prompt: str | None, max_new_tokens: int, temperature: float,
                 top_p: float, seed: int, base_model: str | None) -> None:
        """Chat with MODEL in the terminal through its chat template, tokens streamed as they
        come. /reset starts over, /exit (or end of input) quits."""
        from luacoder_eval.chat import chat_loop

        loaded = _load_model(model, base_model)
        chat_loop(loaded.model, loaded.tokenizer, system_prompt=system_prompt,
                  max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed,
                  stdin=sys.stdin)

    from luacoder_eval.serve.cli import add_serve_command

    add_serve_command(group, CONTEXT_SETTINGS)


def _load_model(model: str, base_model: str | None) -> Any:
    from pathlib import Path

    from luacoder_eval.models import ModelLoader, model_problem

    path = Path(model)
    if path.exists():
        problem = model_problem(path)
        if problem is not None:
            raise InputError(f"cannot load this model: {problem}", file=model)
    loader = ModelLoader(base_model)
    try:
        return loader.load(model)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot load this model: {type(exc).__name__}: {exc}", file=model) from exc
