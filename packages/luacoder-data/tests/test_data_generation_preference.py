"""``generation-preference``: sampled answers labelled by the API checker -> DPO pairs."""

from __future__ import annotations

import json

API = [{"name": "tween.new", "kind": "function"}, {"name": "tween.easing.linear", "kind": "function"},
       {"name": "Tween:update", "kind": "method"}]

GOOD = "Use `tween.new`:\n\n```lua\nlocal t = tween.new(1, o, {x = 1})\n```"
GOOD_2 = "```lua\nlocal t = tween.new(2, o, {y = 1}, tween.easing.linear)\n```"
INVENTS = "Use `tween.create`:\n\n```lua\nlocal t = tween.create(1, o)\n```"
BROKEN = "Use `tween.new`:\n\n```lua\nlocal t = tween.new(1, o\n```"  # documented, does not parse
NO_CODE = "I am not sure."


def _gens(tmp_path, jsonl, rows):
    write, _ = jsonl
    return write(tmp_path / "samples.jsonl", [
        {"prompt": p, "output": o, "checkpoint": "sft", "sample": i} for i, (p, o) in enumerate(rows)])


def test_pairs_a_clean_answer_with_one_that_invents_a_name(tmp_path, run, jsonl):
    write, read = jsonl
    api = write(tmp_path / "api.jsonl", API)
    gens = _gens(tmp_path, jsonl, [
        ("How do I tween?", INVENTS), ("How do I tween?", GOOD), ("How do I tween?", NO_CODE),
        ("How do I ease?", GOOD), ("How do I ease?", GOOD_2),          # nothing invented: no pair
        ("How do I move?", INVENTS), ("How do I move?", BROKEN),        # no clean answer: no pair
        ("How do I loop?", INVENTS), ("How do I loop?", BROKEN), ("How do I loop?", GOOD_2),
    ])
    out = tmp_path / "pairs.jsonl"
    result = run("data", "convert", "generation-preference", gens, "--api", api, "-o", out, ok=True)
    assert "read 4, written 2, rejected 2" in result.output
    pairs = read(out)
    assert [p["prompt"] for p in pairs] == ["How do I tween?", "How do I loop?"]
    assert pairs[0] == {"prompt": "How do I tween?", "chosen": GOOD, "rejected": INVENTS,
                        "hallucination": {"names": ["tween.create"]}, "answers": 3}
    assert pairs[1]["chosen"] == GOOD_2 and pairs[1]["rejected"] == INVENTS
    rejects = [json.loads(line) for line in (tmp_path / "pairs.jsonl.rejects.jsonl").read_text().splitlines()]
    reasons = sorted(r["reason"] for r in rejects)
    assert reasons == ["none of its 2 answers invents an API name",
                       "none of its 2 answers uses only documented names in Lua that parses"]
    # a documented answer whose Lua does not parse can be chosen when asked for
    loose = tmp_path / "loose.jsonl"
    run("data", "convert", "generation-preference", gens, "--api", api, "-o", loose,
        "--chosen-may-fail-syntax", ok=True)
    assert [p["prompt"] for p in read(loose)] == ["How do I tween?", "How do I move?", "How do I loop?"]


def test_code_report_type_and_seeded_choice(tmp_path, run, jsonl):
    write, read = jsonl
    api = write(tmp_path / "api.jsonl", API)
    rows = [("-- tween x\n", "local t = tween.new(1, o, {x = 1})\n"),
            ("-- tween x\n", "local t = tween.new(2, o, {x = 2})\n"),
            ("-- tween x\n", "local t = tween.make(1, o)\n"),
            ("-- tween x\n", "t:update(0.1)\ntween.fly(t)\n")]
    gens = _gens(tmp_path, jsonl, rows)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path in (a, b):
        run("data", "convert", "generation-preference", gens, "--api", api, "--report-type", "code",
            "--seed", "3", "-o", path, ok=True)
    assert read(a) == read(b)  # the same seed draws the same answers
    (pair,) = read(a)
    assert pair["chosen"] in (rows[0][1], rows[1][1])
    assert pair["rejected"] in (rows[2][1], rows[3][1])


def test_bad_input_is_named(tmp_path, run, jsonl):
    write, _ = jsonl
    api = write(tmp_path / "api.jsonl", API)
    gens = write(tmp_path / "g.jsonl", [{"prompt": "q", "text": GOOD}])
    result = run("data", "convert", "generation-preference", gens, "--api", api, "-o", tmp_path / "o.jsonl")
    assert result.exit_code == 0
    assert "rejected 1" in result.output
    rejects = (tmp_path / "o.jsonl.rejects.jsonl").read_text()
    assert "needs a string 'prompt' and 'output'" in rejects and "g.jsonl" in rejects
    missing = run("data", "convert", "generation-preference", gens, "-o", tmp_path / "x.jsonl")
    assert missing.exit_code == 2 and "--api" in missing.output
