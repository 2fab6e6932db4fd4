"""``luacoder eval run`` writes each scored checkpoint's results into its model card."""

from __future__ import annotations

import csv
import json
import shutil

from luacoder_core.model_card import EVAL_END, EVAL_START, read_card

PROBLEM = {"name": "add", "prompt": "local function add(a, b)\n",
           "tests": "lu = require('luaunit')\nfunction test_add()\n  lu.assertEquals(add(1, 2), 3)\nend\n"
                    "os.exit(lu.LuaUnit.run())",
           "stop_tokens": ["\nlocal", "\nfunction", "\n--", "\n\n"]}

TRAIN_CARD = f"""---
library_name: transformers
tags:
- luacoder
pipeline_tag: text-generation
---

# run

Written by luacoder train.

## Training data

| source | records |
|---|---|
| chat.jsonl | 20 |

{EVAL_START}
## Evaluation results

Not scored yet.
{EVAL_END}
"""


def test_scores_go_into_the_cards_not_into_the_base(invoke, checkpoints, tiny_base, tween_api,
                                                    tmp_path):
    run = tmp_path / "run"
    shutil.copytree(checkpoints / "checkpoint-20", run / "checkpoint-20")
    (run / "checkpoint-20" / "README.md").write_text(TRAIN_CARD, encoding="utf-8")
    shutil.copytree(checkpoints / "checkpoint-80", run / "checkpoint-80")  # no card yet
    base_files = sorted(p.name for p in tiny_base.iterdir())
    prompts = tmp_path / "prompts.csv"
    with prompts.open("w", newline="") as fh:
        csv.writer(fh).writerows([["prompt"], ["local t = "], ["tween."]])
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps(PROBLEM) + "\n")
    config = tmp_path / "eval.yaml"
    config.write_text(f"base_folder: {run}\nbase_model: {tiny_base}\napi_path: {tween_api}\n"
                      f"test_data_path: {prompts}\nreport_type: code\nproblems_path: {problems}\n"
                      "max_new_tokens: 12\nnum_samples: 1\ntemperature: 0.0\nseed: 1\n"
                      f"output_dir: {tmp_path / 'eval'}\n")
    result = invoke("eval", "run", config)
    assert result.exit_code == 0, result.output
    assert "model cards: scores written into README.md of 2 model folder(s)" in result.output
    rows = {r["checkpoint"]: r for r in json.loads((tmp_path / "eval" / "results.json").read_text())["rows"]}

    meta, body = read_card(run / "checkpoint-20" / "README.md")
    # the training part of the card is kept, the eval section replaced
    assert meta["library_name"] == "transformers" and meta["tags"] == ["luacoder"]
    assert "## Training data" in body and "| chat.jsonl | 20 |" in body
    assert "Not scored yet." not in body and body.count(EVAL_START) == 1
    (entry,) = meta["model-index"]
    (res,) = entry["results"]
    metrics = {m["type"]: m for m in res["metrics"]}
    row = rows["checkpoint-20"]
    assert metrics["api_match_accuracy"]["value"] == round(row["api_match_accuracy"], 6)
    assert metrics["syntax_valid_rate"]["value"] == round(row["syntax_valid_rate"], 6)
    assert metrics["pass@1"]["value"] == round(row["pass@1"], 6)
    assert metrics["pass@1"]["name"] == "pass@1 (Lua 5.4)"
    assert res["dataset"]["name"] == "prompts.csv"
    assert "| API match |" in body and "| pass@1 (Lua 5.4) |" in body
    assert "programs run with Lua 5.4" in body

    # a folder without a card gets a minimal one; the base model's folder is never written
    meta80, _ = read_card(run / "checkpoint-80" / "README.md")
    assert meta80["model-index"][0]["name"] == "checkpoint-80"
    assert sorted(p.name for p in tiny_base.iterdir()) == base_files
