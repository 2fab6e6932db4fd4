"""``api-chat`` and ``api-preference``: nothing invented, hallucinations really undocumented,
seeded, templates overridable; on small records and on the luv reference."""

from __future__ import annotations

import pytest
from luacoder_core.lua import ApiIndex, extract_calls, extract_references
from luacoder_core.markdown import lua_code

API = [
    {"name": "tween.new", "kind": "function", "signature": "tween.new(duration, subject, target[, easing])",
     "params": [{"name": "duration", "type": "number", "description": "seconds", "optional": False},
                {"name": "subject", "type": "table", "description": "", "optional": False},
                {"name": "target", "type": "table", "description": "", "optional": False},
                {"name": "easing", "type": "string", "description": "", "optional": True}],
     "returns": [{"type": "tween", "description": "the new tween"}],
     "description": "Creates a new tween. It animates subject towards target; see `tween.update`.",
     "examples": ["local t = tween.new(2, pos, {x = 10}, 'linear')\nt:update(0.1)\n"]},
    {"name": "tween.update", "kind": "function", "signature": "tween.update(t, dt)",
     "params": [{"name": "t", "type": "tween", "description": "", "optional": False},
                {"name": "dt", "type": "number", "description": "", "optional": False}],
     "returns": [{"type": "boolean", "description": "true when finished"}],
     "description": "Advances a tween by `dt` seconds.", "examples": []},
    {"name": "tween.easing.linear", "kind": "function", "signature": "tween.easing.linear(t)",
     "params": [{"name": "t", "type": "number", "description": "", "optional": False}],
     "returns": [], "description": "Linear easing. Unlike `tween.magic()` it is boring.",
     "examples": []},
    {"name": "tween.reset", "kind": "function", "signature": "tween.reset(t)", "params": [],
     "returns": [], "description": "Resets a tween.", "examples": [], "deprecated": True,
     "deprecation": "Use `tween.new` again."},
    {"name": "tween.version", "kind": "field", "signature": "tween.version", "params": [],
     "returns": [], "description": "", "examples": []},
]


def _answers_documented(records, index: ApiIndex) -> list[str]:
    bad = []
    for r in records:
        for m in r["messages"]:
            if m["role"] != "assistant":
                continue
            for code in lua_code(m["content"]):
                bad += [ref.name for ref in extract_references(code, index.roots)
                        if not index.matches(ref.name)]
    return bad


def test_api_chat_answers_only_documented_names(run, jsonl, tmp_path):
    write, read = jsonl
    api = write(tmp_path / "api.jsonl", API)
    out = tmp_path / "chat.jsonl"
    result = run("data", "convert", "api-chat", api, "-o", out, ok=True)
    records = read(out)
    index = ApiIndex(r["name"] for r in API)
    assert _answers_documented(records, index) == []
    templates = {(r["api"], r["template"]) for r in records}
    assert {("tween.new", "what_does"), ("tween.new", "returns"), ("tween.new", "params"),
            ("tween.new", "example"), ("tween.new", "how_do_i"), ("tween.reset", "deprecated"),
            ("tween.update", "how_do_i")} <= templates
    how = next(r for r in records if r["template"] == "how_do_i" and r["api"] == "tween.update")
    assert "advance a tween by `dt` seconds" in how["messages"][0]["content"]
    # the one answer mentioning an undocumented name is rejected, with the name
    rejects = read(tmp_path / "chat.jsonl.rejects.jsonl")
    assert any("tween.magic" in r["reason"] for r in rejects)
    assert any("nothing documented" in r["reason"] and r["record"]["name"] == "tween.version"
               for r in rejects)
    line = result.output.split("api-chat: read ")[1]
    read_n, written = int(line.split(",")[0]), int(line.split("written ")[1].split(",")[0])
    assert read_n == written + len(rejects)


def test_api_chat_seeded_and_templates_overridable(run, jsonl, tmp_path):
    write, read = jsonl
    api = write(tmp_path / "api.jsonl", API)
    run("data", "convert", "api-chat", api, "-o", tmp_path / "a.jsonl", "--seed", "1", ok=True)
    run("data", "convert", "api-chat", api, "-o", tmp_path / "b.jsonl", "--seed", "1", ok=True)
    assert read(tmp_path / "a.jsonl") == read(tmp_path / "b.jsonl")
    tpl = tmp_path / "tpl.yaml"
    tpl.write_text("system: You are a Lua tutor.\ntemplates:\n  - id: signature\n"
                   "    requires: [callable]\n    questions: ['Signature of {name}?']\n"
                   "    answer: '`{signature}`'\n", encoding="utf-8")
    run("data", "convert", "api-chat", api, "-o", tmp_path / "c.jsonl", "--templates", tpl,
        "--only", "signature", ok=True)
    records = read(tmp_path / "c.jsonl")
    assert len(records) == 4 and all(r["template"] == "signature" for r in records)
    assert records[0]["messages"][0] == {"role": "system", "content": "You are a Lua tutor."}
    assert records[0]["messages"][2]["content"] == "`tween.new(duration, subject, target[, easing])`"


def test_api_chat_bad_template_exit_2(run, jsonl, tmp_path):
    write, _ = jsonl
    api = write(tmp_path / "api.jsonl", API)
    tpl = tmp_path / "tpl.yaml"
    tpl.write_text("templates:\n  - id: x\n    questions: ['{nmae}?']\n    answer: a\n",
                   encoding="utf-8")
    result = run("data", "convert", "api-chat", api, "-o", tmp_path / "o.jsonl", "--templates", tpl)
    assert result.exit_code == 2 and "tpl.yaml" in result.output and "{nmae}" in result.output
    missing = run("data", "convert", "api-chat", tmp_path / "none.jsonl", "-o", tmp_path / "o.jsonl")
    assert missing.exit_code == 2 and "none.jsonl: file not found" in missing.output


def test_api_preference_hallucinations_are_undocumented(run, jsonl, tmp_path):
    write, read = jsonl
    api = write(tmp_path / "api.jsonl", API)
    out = tmp_path / "pref.jsonl"
    result = run("data", "convert", "api-preference", api, "-o", out, "--pairs-per-record", "3",
                 "--seed", "5", ok=True)
    records = read(out)
    assert records
    index = ApiIndex(r["name"] for r in API)
    kinds = set()
    for r in records:
        h = r["hallucination"]
        kinds.add(h["kind"])
        chosen_code, rejected_code = lua_code(r["chosen"])[0], lua_code(r["rejected"])[0]
        chosen_refs = {x.name for x in extract_references(chosen_code, index.roots)}
        assert r["api"] in chosen_refs
        assert all(index.matches(x) for x in chosen_refs)
        if h["kind"] in ("name", "module"):
            assert not index.matches(h["name"])
            assert h["name"] in {x.name for x in extract_references(rejected_code, index.roots)}
        else:
            record = next(a for a in API if a["name"] == r["api"])
            required = sum(1 for p in record["params"] if not p["optional"])
            calls = [c for c in extract_calls(rejected_code, index.roots) if c.name == r["api"]]
            assert calls[0].nargs < required or calls[0].nargs > len(record["params"])
    assert kinds == {"name", "module", "arity"}
    # a call at the very start of the code (no `local x =`) is found and replaced too
    assert any(r["api"] == "tween.reset" and r["hallucination"]["kind"] == "name" for r in records)
    assert "tween.version" in (tmp_path / "pref.jsonl.rejects.jsonl").read_text()
    run("data", "convert", "api-preference", api, "-o", tmp_path / "again.jsonl",
        "--pairs-per-record", "3", "--seed", "5", ok=True)
    assert read(tmp_path / "again.jsonl") == records
    assert "read " in result.output


def test_api_preference_strategy_selection_and_messages(run, jsonl, tmp_path):
    write, read = jsonl
    api = write(tmp_path / "api.jsonl", API)
    out = tmp_path / "pref.jsonl"
    run("data", "convert", "api-preference", api, "-o", out, "--strategies", "arity",
        "--prompt-format", "messages", ok=True)
    records = read(out)
    assert records and all(r["hallucination"]["kind"] == "arity" for r in records)
    assert records[0]["prompt"][0]["role"] == "user"
    assert records[0]["chosen"][0]["role"] == "assistant"
    bad = run("data", "convert", "api-preference", api, "-o", out, "--strategies", "typo")
    assert bad.exit_code == 2 and "unknown 'typo'" in bad.output


def test_luv_reference_chat_and_preference(run, jsonl, shared_data, tmp_path):
    _, read = jsonl
    api = tmp_path / "luv.jsonl"
    run("data", "convert", "markdown-api", shared_data / "docs" / "luv" / "docs.md", "-o", api,
        ok=True)
    names = [r["name"] for r in read(api)]
    index = ApiIndex(names)
    run("data", "convert", "api-chat", api, "-o", tmp_path / "chat.jsonl", ok=True)
    chat = read(tmp_path / "chat.jsonl")
    assert len(chat) >= 600
    assert _answers_documented(chat, index) == []
    run("data", "convert", "api-preference", api, "-o", tmp_path / "pref.jsonl", ok=True)
    pref = read(tmp_path / "pref.jsonl")
    assert len(pref) >= 200
    assert all(not index.matches(r["hallucination"]["name"]) for r in pref
               if r["hallucination"]["kind"] != "arity")


@pytest.mark.parametrize("converter", ["api-chat", "api-preference"])
def test_synthetic_converters_write_parquet_and_split(run, jsonl, tmp_path, converter):
    write, read = jsonl
    api = write(tmp_path / "api.jsonl", API)
    run("data", "convert", converter, api, "-o", tmp_path / "s.jsonl", "--test-size", "0.25", ok=True)
    assert read(tmp_path / "s.test.jsonl") and read(tmp_path / "s.train.jsonl")
    run("data", "convert", converter, api, "-o", tmp_path / "s.parquet", "--format", "parquet",
        ok=True)
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "s.parquet").num_rows == len(read(tmp_path / "s.train.jsonl")) + \
        len(read(tmp_path / "s.test.jsonl"))
