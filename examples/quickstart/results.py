"""The quickstart's figures in one file: ``runs/quickstart/latest/results.json``.

    python examples/quickstart/results.py            # read the latest run, write results.json, print
    python examples/quickstart/results.py --check    # ... and exit 1 when a figure misses its bar

Read from the files the pipeline's stages wrote (``manifest.json``, each eval stage's
``results.json``), nothing recomputed:

* ``code``: the code model's untrained ``base`` row and its ``final`` checkpoint on the held-out
  code prompts: syntax-valid rate, API match accuracy and the number of references it rests on;
* ``chat``: the pretrained code model before SFT (the ``eval_sft`` stage's ``base`` row), the chat
  model after SFT (the ``eval`` stage's ``base`` row) and after DPO (its ``final`` row) on the
  held-out questions: the share of answers with a fenced Lua
  block that parses (``syntax_valid_rate``: an answer without one counts as not valid) and the
  hallucinated-name rate (undocumented references / references);
* ``pipeline_seconds``: the stages' own times from the run's manifest (cached stages count the
  time they took when they ran).

``--check`` compares with the bars of issue 12, loosened so that another machine's arithmetic
does not flip a verdict (the README's expected figures are the measured ones).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: figure -> (comparison, bar): loose versions of issue 12's numbers
BARS = {
    "code.final.syntax_valid_rate": (">=", 0.4),
    "code.final.api_match_accuracy": (">=", 0.75),
    "code.final.refs_total": (">=", 20),
    "code.base.syntax_valid_rate": ("<=", 0.2),
    "chat.sft.syntax_valid_rate": (">=", 0.4),
}


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read {path}: {exc} (run the quickstart pipeline first)") from exc


def _row(results: dict, kind: str) -> dict:
    rows = [r for r in results.get("rows") or [] if isinstance(r, dict)]
    matching = [r for r in rows if r.get("kind") == kind]
    if not matching and kind == "final" and rows:
        matching = [rows[-1]]  # no final folder: the last checkpoint
    if not matching:
        raise SystemExit(f"no '{kind}' row in {results.get('_path')}")
    return matching[-1]


def _figures(row: dict) -> dict:
    refs = row.get("refs_total") or 0
    matched = row.get("refs_matched") or 0
    return {
        "checkpoint": row.get("checkpoint"),
        "step": row.get("step"),
        "samples": row.get("samples"),
        "syntax_valid_rate": row.get("syntax_valid_rate"),
        "api_match_accuracy": row.get("api_match_accuracy"),
        "refs_total": refs,
        "refs_matched": matched,
        "hallucinated_rate": (refs - matched) / refs if refs else None,
        "hallucinated": row.get("hallucinated") or {},
    }


def collect(run_dir: Path) -> dict:
    manifest = _json(run_dir / "manifest.json")
    stages = manifest.get("stages") or {}

    def stage_results(name: str) -> dict:
        if name not in stages:
            raise SystemExit(f"the run has no stage '{name}'")
        results = _json(Path(stages[name]["output"]) / "results.json")
        results["_path"] = str(Path(stages[name]["output"]) / "results.json")
        return results

    code = stage_results("eval_code")
    chat = stage_results("eval")
    seconds = {}
    for name, record in stages.items():
        took = record.get("seconds")
        if took is None:  # cached: the time it took when it ran
            done = Path(record["dir"]) / ".luacoder-complete.json"
            took = _json(done).get("seconds") if done.is_file() else None
        seconds[name] = took
    out = {
        "run_dir": str(run_dir),
        "status": manifest.get("status"),
        "pipeline_seconds": round(sum(s for s in seconds.values() if isinstance(s, (int, float))), 1),
        "stage_seconds": seconds,
        "code": {"base": _figures(_row(code, "base")), "final": _figures(_row(code, "final")),
                 "checkpoints": [_figures(r) for r in code.get("rows") or []]},
        "chat": {"sft": _figures(_row(chat, "base")), "dpo": _figures(_row(chat, "final")),
                 "checkpoints": [_figures(r) for r in chat.get("rows") or []]},
    }
    if "eval_sft" in stages:  # its base row: the pretrained code model asked the same questions
        out["chat"]["before_sft"] = _figures(_row(stage_results("eval_sft"), "base"))
    return out


def _get(data: dict, dotted: str):
    for part in dotted.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def check(results: dict) -> list[str]:
    failures = []
    for figure, (op, bar) in BARS.items():
        value = _get(results, figure)
        ok = isinstance(value, (int, float)) and (value >= bar if op == ">=" else value <= bar)
        if not ok:
            failures.append(f"{figure} = {value} (want {op} {bar})")
    before = results["chat"].get("before_sft")
    if before is not None and not ((before["syntax_valid_rate"] or 0)
                                   < (results["chat"]["sft"]["syntax_valid_rate"] or 0)):
        failures.append(f"chat answers with a Lua block that parses: {before['syntax_valid_rate']} "
                        f"before SFT, {results['chat']['sft']['syntax_valid_rate']} after (want more after)")
    sft, dpo = results["chat"]["sft"]["hallucinated_rate"], results["chat"]["dpo"]["hallucinated_rate"]
    if sft is None or dpo is None or dpo > sft:
        failures.append(f"chat hallucinated-name rate after DPO {dpo} is above SFT's {sft}")
    return failures


def _pct(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str]) -> int:
    run_dir = Path(argv[argv.index("--run") + 1]) if "--run" in argv else HERE / "runs" / "quickstart" / "latest"
    results = collect(run_dir.resolve())
    path = run_dir / "results.json"
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    code, chat = results["code"], results["chat"]
    print(f"quickstart figures ({path}):")
    print(f"  pipeline: {results['pipeline_seconds']:.0f}s of stage time")
    for label, row in (("code model, base ", code["base"]), ("code model, final", code["final"])):
        print(f"  {label}: syntax-valid {_pct(row['syntax_valid_rate'])}, API match "
              f"{_pct(row['api_match_accuracy'])} over {row['refs_total']} references")
    for label, row in [("chat before SFT  ", chat.get("before_sft")), ("chat after SFT   ", chat["sft"]),
                       ("chat after DPO   ", chat["dpo"])]:
        if row is None:
            continue
        print(f"  {label}: answers with a Lua block that parses {_pct(row['syntax_valid_rate'])}, "
              f"hallucinated names {_pct(row['hallucinated_rate'])} of {row['refs_total']} references")
    if "--check" in argv:
        failures = check(results)
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        if failures:
            return 1
        print("all figures within their bars")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
