"""``luacoder eval run``: the checkpoint sweep end to end on tiny checkpoints."""

from __future__ import annotations

import csv
import json

import pytest
from luacoder_eval.sweep import discover

PROBLEMS = [
    {"name": "add", "prompt": "local function add(a, b)\n",
     "tests": "lu = require('luaunit')\nfunction test_add()\n  lu.assertEquals(add(1, 2), 3)\nend\n"
              "os.exit(lu.LuaUnit.run())",
     "stop_tokens": ["\nlocal", "\nfunction", "\n--", "\n\n"]},
    {"name": "one", "prompt": "local function one()\n",
     "tests": "lu = require('luaunit')\nfunction test_one()\n  lu.assertEquals(one(), 1)\nend\n"
              "os.exit(lu.LuaUnit.run())",
     "stop_tokens": ["\nlocal", "\nfunction", "\n--", "\n\n"]},
]


@pytest.fixture
def sweep_config(tmp_path, checkpoints, tiny_base, tween_api):
    prompts = tmp_path / "prompts.csv"
    with prompts.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["prompt"])
        for p in ["local t = ", "tween.", "local e = ", "local function move(o)\n"]:
            writer.writerow([p])
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    out = tmp_path / "eval"
    config = tmp_path / "eval.yaml"
    config.write_text(
        f"base_folder: {checkpoints}\n"
        f"base_model: {tiny_base}\n"
        f"api_path: {tween_api}\n"
        f"test_data_path: {prompts}\n"
        "report_type: code\n"
        f"problems_path: {problems}\n"
        "max_new_tokens: 24\n"
        "num_samples: 2\n"
        "temperature: 0.7\n"
        "batch_size: 8\n"
        "seed: 1\n"
        f"output_dir: {out}\n"
    )
    return config, out


def test_discover_finds_checkpoints_in_step_order(checkpoints, tiny_base):
    found = discover(checkpoints, base_model=str(tiny_base))
    assert [(c.name, c.step, c.kind) for c in found] == [
        ("base", 0, "base"), ("checkpoint-20", 20, "checkpoint"), ("checkpoint-60", 60, "checkpoint"),
        ("checkpoint-80", 80, "checkpoint"), ("checkpoint-90", 90, "checkpoint"),
        ("checkpoint-95", 95, "checkpoint"), ("final", 100, "final")]
    problems = {c.name: c.problem for c in found}
    assert problems["checkpoint-90"] == "config.json but no model weights (half written?)"
    assert problems["checkpoint-95"] == "no config.json or adapter_config.json (not a model folder)"
    assert all(problems[n] is None for n in ("base", "checkpoint-20", "checkpoint-60", "checkpoint-80", "final"))


def test_sweep_end_to_end(invoke, sweep_config, tween_api):
    config, out = sweep_config
    api = tween_api
    result = invoke("eval", "run", config)
    assert result.exit_code == 0, result.output
    for name in ("report.md", "results.csv", "results.json", "metrics.png"):
        assert (out / name).is_file(), name
    assert (out / "metrics.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((out / "results.json").read_text())
    rows = data["rows"]
    assert [r["checkpoint"] for r in rows] == ["base", "checkpoint-20", "checkpoint-60",
                                               "checkpoint-80", "final"]
    assert [r["step"] for r in rows] == [0, 20, 60, 80, 100]
    assert {s["checkpoint"]: s["reason"] for s in data["skipped"]} == {
        "checkpoint-90": "config.json but no model weights (half written?)",
        "checkpoint-95": "no config.json or adapter_config.json (not a model folder)"}
    adapter = rows[3]
    assert adapter["adapter"] is True and rows[2]["adapter"] is False
    for row in rows:
        assert row["samples"] == 8  # 4 prompts x 2 samples
        for key in ("api_match_accuracy", "macro_accuracy", "syntax_valid_rate", "arity_ok_rate",
                    "pass@1", "pass@2", "refs_total", "hallucinated"):
            assert key in row
        gens = (out / "generations" / f"{row['checkpoint']}.jsonl").read_text().splitlines()
        assert len(gens) == 8
        assert all(json.loads(g)["checkpoint"] == row["checkpoint"] for g in gens)
        assert (out / "generations" / f"{row['checkpoint']}.problems.jsonl").is_file()
        assert row["exec_programs"] == 4
    # the trained checkpoints call the tween API; the random base does not
    assert rows[0]["refs_total"] < rows[2]["refs_total"]
    # each row's numbers are what `eval score` gives on the generations it wrote
    for row in rows:
        gens_file = out / "generations" / f"{row['checkpoint']}.jsonl"
        scored = invoke("eval", "score", "--api", api, "--generations", gens_file,
                        "--report-type", "code", "--json")
        values = json.loads(scored.output)
        for key in ("api_match_accuracy", "macro_accuracy", "refs_total", "hallucinated",
                    "syntax_valid_rate", "arity_ok_rate"):
            assert values[key] == row[key], (row["checkpoint"], key)
    # every figure says what it rests on: 95% intervals in the rows, brackets in report.md
    for row in rows:
        if row["api_match_accuracy"] is not None:
            low, high = row["api_match_accuracy_ci95"]
            assert low <= row["api_match_accuracy"] <= high
        low, high = row["pass@1_ci95"]
        assert low <= row["pass@1"] <= high
    # 8 samples hold far fewer than min_refs (20) references: no checkpoint is crowned
    assert max(r["refs_total"] for r in rows) < 20
    assert data["best"] is None and "too little evidence" in data["best_note"]
    report = (out / "report.md").read_text()
    assert "**No best checkpoint**: too little evidence" in report
    assert "Wilson" in report and "normal approximation over problems" in report
    # with min_refs lowered the highest api_match_accuracy wins, ties to the later step
    result = invoke("eval", "run", config, "--set", "min_refs=1")
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text())
    values = [(r["api_match_accuracy"], i) for i, r in enumerate(rows) if r["api_match_accuracy"] is not None]
    best = rows[max(values)[1]]["checkpoint"]
    assert data["best"] == best
    report = (out / "report.md").read_text()
    assert f"**Best checkpoint: `{best}`**" in report
    assert "checkpoint-90" in report and "half written" in report
    assert "## Most frequent hallucinated names" in report
    with (out / "results.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert [r["checkpoint"] for r in table] == [r["checkpoint"] for r in rows]
    assert "api_match_accuracy" in table[0] and "pass@1" in table[0]
    assert f"best: {best}" in result.output

    # a rerun skips what was scored; --force scores again
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "generations").iterdir()}
    again = invoke("eval", "run", config)
    assert again.exit_code == 0
    assert again.output.count("already scored") == 5
    assert {p.name: p.stat().st_mtime_ns for p in (out / "generations").iterdir()} == stamps
    assert json.loads((out / "results.json").read_text())["rows"] == rows
    forced = invoke("eval", "run", config, "--force", "--set", "max_new_tokens=8")
    assert forced.exit_code == 0
    assert "already scored" not in forced.output
    regenerated = json.loads((out / "results.json").read_text())["rows"]
    assert [r["checkpoint"] for r in regenerated] == [r["checkpoint"] for r in rows]
    assert all(r["fingerprint"] != rows[0]["fingerprint"] for r in regenerated)


def test_changed_settings_rescore_without_force(invoke, sweep_config, tmp_path):
    config, out = sweep_config
    first = invoke("eval", "run", config, "--set", "base_model=null", "--set", "problems_path=null",
                   "--set", "max_new_tokens=6", "--output", tmp_path / "other")
    assert first.exit_code == 0, first.output
    second = invoke("eval", "run", config, "--set", "base_model=null", "--set", "problems_path=null",
                    "--set", "max_new_tokens=7", "--output", tmp_path / "other")
    assert second.exit_code == 0
    assert "already scored" not in second.output
    rows = json.loads((tmp_path / "other" / "results.json").read_text())["rows"]
    assert [r["checkpoint"] for r in rows] == ["checkpoint-20", "checkpoint-60", "checkpoint-80", "final"]


def test_sweep_config_errors(invoke, sweep_config, tmp_path):
    config, _ = sweep_config
    result = invoke("eval", "run", config, "--set", "max_new_token=3")
    assert result.exit_code == 2
    assert "unknown key 'max_new_token'; did you mean 'max_new_tokens'?" in result.output
    result = invoke("eval", "run", config, "--set", "metric=api_match_acuracy")
    assert result.exit_code == 2 and "did you mean 'api_match_accuracy'" in result.output
    result = invoke("eval", "run", config, "--set", "batch_size=many")
    assert result.exit_code == 2 and "key 'batch_size' must be int" in result.output
    missing = tmp_path / "missing.yaml"
    missing.write_text("base_folder: .\napi_path: a.jsonl\nreport_type: code\n")
    result = invoke("eval", "run", missing)
    assert result.exit_code == 2 and "missing required key 'test_data_path'" in result.output
    result = invoke("eval", "run", config, "--set", f"base_folder={tmp_path / 'nope'}")
    assert result.exit_code == 2 and "is not a folder" in result.output
    no_column = tmp_path / "p.csv"
    no_column.write_text("question\nhello\n")
    result = invoke("eval", "run", config, "--set", f"test_data_path={no_column}")
    assert result.exit_code == 2 and f"{no_column}:1: no column 'prompt'" in result.output


def test_sweep_markdown_goes_through_the_chat_template(invoke, checkpoints, tween_api, tmp_path):
    prompts = tmp_path / "questions.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": q}) + "\n"
                               for q in ["How do I create a tween?", "How do I ease?"]))
    config = tmp_path / "chat.yaml"
    config.write_text(f"base_folder: {checkpoints}\napi_path: {tween_api}\n"
                      f"test_data_path: {prompts}\nreport_type: markdown\nmax_new_tokens: 40\n"
                      "metric: syntax_valid_rate\n")
    result = invoke("eval", "run", config, "--output", tmp_path / "out")
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "out" / "results.json").read_text())["rows"]
    final = rows[-1]
    assert final["checkpoint"] == "final"
    record = json.loads((tmp_path / "out" / "generations" / "final.jsonl").read_text().splitlines()[0])
    assert record["prompt"] == "How do I create a tween?"
    # the trained model answers in markdown with a ```lua block using tween.new
    assert "```lua" in record["output"] and "<|im_start|>" not in record["output"]
    assert final["refs_total"] >= 1 and final["samples_with_code"] >= 1
    assert "syntax_valid_rate" in (tmp_path / "out" / "report.md").read_text()


def test_sweep_with_nothing_usable_fails_with_the_reasons(invoke, checkpoints, tween_api, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(checkpoints / "checkpoint-90", run / "checkpoint-3")
    (run / "checkpoint-5").mkdir()
    (run / "checkpoint-5" / "config.json").write_text("{}")
    (run / "checkpoint-5" / "model.safetensors").write_bytes(b"not safetensors")
    prompts = tmp_path / "p.txt"
    prompts.write_text("local t = \n")
    config = tmp_path / "c.yaml"
    config.write_text(f"base_folder: {run}\napi_path: {tween_api}\ntest_data_path: {prompts}\n"
                      "report_type: code\n")
    result = invoke("eval", "run", config)
    assert result.exit_code == 1
    assert "no checkpoint could be scored (2 skipped" in result.output
    report = (run / "eval" / "report.md").read_text()
    assert "checkpoint-3" in report and "half written" in report
    assert "checkpoint-5" in report and "failed to load" in report
