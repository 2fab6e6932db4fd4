"""``luacoder eval score`` on hand-written generations: the exact numbers of DESIGN.md's rules."""

from __future__ import annotations

import json

import pytest

CODE_SAMPLES = [
    # tween.new, tween.easing.linear, tween.log: 3/3; t:update is a method on a local: not counted
    "local t = tween.new(1, s, {x = 1}, tween.easing.linear)\nt:update(dt)\ntween.log('a', 1, 2, 3)\n",
    # tween.fly twice (deduplicated), in a comment and in a string (ignored); tween.easing is a
    # prefix of documented names: 1/2
    "tween.fly(s)\ntween.fly(s)\n-- tween.comment()\nlocal s = \"tween.str\"\nlocal e = tween.easing\n",
    # no references
    "print('hello')\n",
    # empty generation: no references, no code
    "",
    # cut off: does not parse, still scanned: 1/1
    "local t = tween.new(1, s, {x = 1}",
    # tween.easing.quadIn and tween.fly undocumented, Tween:update documented: 1/3;
    # Tween:update gets 2 arguments where 1 is documented
    "tween.easing.quadIn(1)\ntween.fly()\nTween:update(1, 2)\n",
]

MARKDOWN_SAMPLES = [
    # the lua block and the inline span both hold tween.new (deduplicated); python ignored: 1/1
    "Use `tween.new` like this:\n\n```lua\nlocal t = tween.new(1, o, {x = 1})\n```\n\n"
    "```python\ntween.fake()\n```\n",
    # an untagged block counts, tween.jump in an inline span is undocumented: 1/2
    "Call `tween.jump()` then:\n\n```\ntween.easing.linear(1, 2, 3, 4)\n```\n",
    # prose is ignored: no references, no code block
    "No code here, just tween.new mentioned in prose.\n",
    # a cut-off block: 1/1, not valid Lua
    "```lua\nlocal t = tween.new(1,\n```\n",
]


def write_jsonl(path, outputs, column="output"):
    path.write_text("".join(json.dumps({"prompt": f"p{i}", column: o}) + "\n"
                            for i, o in enumerate(outputs)))
    return path


def score_json(invoke, api, gens, report_type, *extra):
    result = invoke("eval", "score", "--api", api, "--generations", gens, "--report-type",
                    report_type, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_score_code_exact_numbers(invoke, tween_api, tmp_path):
    gens = write_jsonl(tmp_path / "gens.jsonl", CODE_SAMPLES)
    values = score_json(invoke, tween_api, gens, "code")
    assert values["samples"] == 6
    assert values["refs_total"] == 9
    assert values["refs_matched"] == 6
    assert values["api_match_accuracy"] == pytest.approx(6 / 9)
    assert values["samples_with_refs"] == 4
    assert values["macro_accuracy"] == pytest.approx((1 + 0.5 + 1 + 1 / 3) / 4)
    assert values["hallucinated"] == {"tween.fly": 2, "tween.easing.quadIn": 1}
    assert list(values["hallucinated"]) == ["tween.fly", "tween.easing.quadIn"]
    assert values["hallucinated_examples"]["tween.fly"]["snippet"] == "tween.fly(s)"
    # valid: samples 1, 2, 3 and 6; the empty one has no code, the cut-off one does not compile
    assert values["syntax_valid"] == 4
    assert values["samples_with_code"] == 5
    assert values["syntax_valid_rate"] == pytest.approx(4 / 6)
    # tween.new(4 args) fits 3..4, tween.log(...) is a vararg, Tween:update(1, 2) is one too many
    assert values["arity_checked"] == 3
    assert values["arity_mismatches"] == 1
    assert values["arity_mismatched"] == {"Tween:update": 1}
    assert values["arity_ok_rate"] == pytest.approx(2 / 3)


def test_score_markdown_exact_numbers(invoke, tween_api, tmp_path):
    gens = write_jsonl(tmp_path / "gens.jsonl", MARKDOWN_SAMPLES)
    values = score_json(invoke, tween_api, gens, "markdown")
    assert values["samples"] == 4
    assert (values["refs_matched"], values["refs_total"]) == (3, 4)
    assert values["api_match_accuracy"] == pytest.approx(0.75)
    assert values["samples_with_refs"] == 3
    assert values["macro_accuracy"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert values["hallucinated"] == {"tween.jump": 1}
    # inline spans are not syntax-checked; the prose-only answer has no code block
    assert values["samples_with_code"] == 3
    assert values["syntax_valid"] == 2
    assert values["syntax_valid_rate"] == pytest.approx(0.5)
    # tween.new(3 args) and tween.easing.linear(4 args) fit; the cut-off call is not checked
    assert values["arity_checked"] == 2 and values["arity_mismatches"] == 0


def test_score_same_text_differs_by_report_type(invoke, tween_api, tmp_path):
    """As `code`, markdown prose is Lua (and broken); as `markdown`, only its code counts."""
    gens = write_jsonl(tmp_path / "gens.jsonl", [MARKDOWN_SAMPLES[0]])
    as_code = score_json(invoke, tween_api, gens, "code")
    as_md = score_json(invoke, tween_api, gens, "markdown")
    assert as_code["hallucinated"] == {"tween.fake": 1}
    assert as_md["hallucinated"] == {}
    assert as_code["syntax_valid_rate"] == 0.0 and as_md["syntax_valid_rate"] == 1.0


def test_score_no_references_is_null(invoke, tween_api, tmp_path):
    gens = write_jsonl(tmp_path / "gens.jsonl", ["print(1)", "local x = 2"])
    values = score_json(invoke, tween_api, gens, "code")
    assert values["api_match_accuracy"] is None and values["macro_accuracy"] is None
    assert values["refs_total"] == 0 and values["syntax_valid_rate"] == 1.0


def test_score_csv_column_and_api_folder(invoke, tween_api, tmp_path):
    import csv

    api_dir = tmp_path / "api"
    (api_dir / "sub").mkdir(parents=True)
    records = [json.loads(line) for line in tween_api.read_text().splitlines()]
    (api_dir / "a.json").write_text(json.dumps(records[:3]))
    (api_dir / "sub" / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[3:]))
    gens = tmp_path / "gens.csv"
    with gens.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["prompt", "answer"])
        for i, text in enumerate(CODE_SAMPLES):
            writer.writerow([f"p{i}", text])
    values = score_json(invoke, api_dir, gens, "code", "--column", "answer")
    assert values["api_match_accuracy"] == pytest.approx(6 / 9)
    assert values["arity_mismatched"] == {"Tween:update": 1}


def test_score_human_output(invoke, tween_api, tmp_path):
    gens = write_jsonl(tmp_path / "gens.jsonl", CODE_SAMPLES)
    result = invoke("eval", "score", "--api", tween_api, "--generations", gens,
                    "--report-type", "code")
    assert result.exit_code == 0
    # the figure, its 95% Wilson interval and the evidence it rests on
    assert ("api_match_accuracy  0.6667  95% CI [0.354, 0.879]  (6/9 references in 4 samples)"
            in result.output)
    assert "hallucinated (2 names): tween.fly x2, tween.easing.quadIn x1" in result.output


def test_score_tolerates_bad_generations(invoke, tween_api, tmp_path):
    """Empty, null, not-UTF-8 and enormous generations are scored, not crashed on."""
    gens = tmp_path / "gens.jsonl"
    huge = "tween.new(1, o, {})\n" + "x = 1\n" * 200_000  # 1.2 MB: scored on its first 1M chars
    lines = [
        json.dumps({"prompt": "a", "output": ""}).encode(),
        json.dumps({"prompt": "b", "output": None}).encode(),
        b'{"prompt": "c", "output": "tween.new(1, o, {}) -- \xff\xfe bad bytes"}',
        json.dumps({"prompt": "d", "output": huge}).encode(),
        json.dumps({"prompt": "e", "output": "\ud800 lone surrogate tween.zap()"}).encode(),
    ]
    gens.write_bytes(b"\n".join(lines) + b"\n")
    values = score_json(invoke, tween_api, gens, "code")
    assert values["samples"] == 5
    assert values["undecodable"] == 1 and values["truncated"] == 1
    assert values["hallucinated"] == {"tween.zap": 1}
    assert values["refs_matched"] == 2


def test_bare_names_follow_design_md(invoke, tmp_path):
    """DESIGN.md: a one-segment name counts only when it is itself a documented name that is not
    the root of longer ones. ``local tween = require("tween")`` and an inline `` `tween` `` are no
    reference even though ``tween`` is documented as a module; ``spawn``, documented alone, is."""
    api = tmp_path / "api.jsonl"
    api.write_text("".join(json.dumps(r) + "\n" for r in [
        {"name": "tween", "kind": "module"}, {"name": "tween.new", "kind": "function"},
        {"name": "spawn", "kind": "function"}, {"name": "blip.get", "kind": "function"}]))
    code = write_jsonl(tmp_path / "code.jsonl", [
        # tween.new 1/1; the bare root is not counted, spawn is: 2/2; blip.nope: 2/3
        'local tween = require("tween")\nlocal t = tween.new(1)\nspawn(f)\nblip.nope()\n',
        # only bare roots: no reference at all
        'local tween = require("tween")\nlocal b = blip\n',
    ])
    values = score_json(invoke, api, code, "code")
    assert (values["refs_total"], values["refs_matched"]) == (3, 2)
    assert values["samples_with_refs"] == 1
    assert values["api_match_accuracy"] == pytest.approx(2 / 3)
    chat = write_jsonl(tmp_path / "chat.jsonl", ["Use `blip` and `tween` for that.\n",
                                                 "Call `spawn` or `blip.get`.\n"])
    values = score_json(invoke, api, chat, "markdown")
    assert (values["refs_total"], values["refs_matched"], values["samples_with_refs"]) == (2, 2, 1)
