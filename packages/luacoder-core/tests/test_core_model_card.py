"""Model cards: front matter round trip and eval results replaced, never stacked."""

from __future__ import annotations

from luacoder_core.model_card import EVAL_END, EVAL_START, read_card, set_eval_results, write_card


def test_eval_results_replace_the_previous_ones_and_keep_the_rest(tmp_path):
    write_card(tmp_path / "README.md", {"license": "mit", "tags": ["luacoder"]},
               f"# m\n\nTraining notes.\n\n{EVAL_START}\nold\n{EVAL_END}\n\nFooter.\n")
    row = {"api_match_accuracy": 0.5, "syntax_valid_rate": 0.875, "pass@1": 0.25, "pass@10": 0.5,
           "refs_total": 12}
    assert set_eval_results(tmp_path, row, model_name="m", dataset_name="prompts.csv",
                            dataset_type="data/prompts.csv", lua_version="Lua 5.4")
    row["api_match_accuracy"] = 0.75
    assert set_eval_results(tmp_path, row, model_name="m", dataset_name="prompts.csv",
                            dataset_type="data/prompts.csv", lua_version="Lua 5.4")
    meta, body = read_card(tmp_path / "README.md")
    assert meta["license"] == "mit" and meta["tags"] == ["luacoder"]
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    assert [(m["type"], m["name"], m["value"]) for m in metrics] == [
        ("api_match_accuracy", "API match", 0.75), ("syntax_valid_rate", "Syntax-valid rate", 0.875),
        ("pass@1", "pass@1 (Lua 5.4)", 0.25), ("pass@10", "pass@10 (Lua 5.4)", 0.5)]
    assert body.count(EVAL_START) == 1 and "old" not in body
    assert "| API match | 0.75 |" in body and "| pass@10 (Lua 5.4) | 0.5 |" in body
    assert "Training notes." in body and body.rstrip().endswith("Footer.")
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]  # no temp file left


def test_a_row_without_scores_writes_nothing(tmp_path):
    assert not set_eval_results(tmp_path, {"samples": 3}, model_name="m", dataset_name="d",
                                dataset_type="d")
    assert not (tmp_path / "README.md").exists()
