"""``dialogue``: every input format, validation, duplicates, splits, output formats, bad input."""

from __future__ import annotations

import json

import pytest

SHAREGPT = [
    {"conversations": [{"from": "human", "value": "How do I print in Lua?"},
                       {"from": "gpt", "value": "Use `print(\"hi\")`."}]},
    {"conversations": [{"from": "system", "value": "Be brief."},
                       {"from": "human", "value": "Length of a table?"},
                       {"from": "gpt", "value": "Use the `#` operator."}]},
]
ALPACA = [
    {"instruction": "Reverse a string in Lua.", "input": "", "output": "`s:reverse()`"},
    {"instruction": "Sum these numbers.", "input": "1, 2, 3", "output": "6"},
]
OPENAI = [
    {"messages": [{"role": "user", "content": "Concatenate strings?"},
                  {"role": "assistant", "content": "Use `..`."}]},
    {"messages": [{"role": "developer", "content": "You know Lua."},
                  {"role": "user", "content": [{"type": "text", "text": "Comment syntax?"}]},
                  {"role": "assistant", "content": "`-- comment`"}]},
]


def test_sharegpt_alpaca_csv_into_one_chat_set(run, jsonl, tmp_path):
    write, read = jsonl
    write(tmp_path / "share.jsonl", SHAREGPT)
    (tmp_path / "alpaca.json").write_text(json.dumps(ALPACA), encoding="utf-8")
    (tmp_path / "qa.csv").write_text('prompt,response\n"What is nil?","The absence of a value."\n'
                                     '"What is a table?","Lua\'s only data structure."\n',
                                     encoding="utf-8")
    write(tmp_path / "openai.jsonl", OPENAI)
    out = tmp_path / "chat.jsonl"
    result = run("data", "convert", "dialogue", tmp_path / "share.jsonl", tmp_path / "alpaca.json",
                 tmp_path / "qa.csv", tmp_path / "openai.jsonl", "-o", out, ok=True)
    assert "read 8, written 8, rejected 0" in result.output
    records = read(out)
    assert [r["source"]["format"] for r in records] == (["sharegpt"] * 2 + ["alpaca"] * 2
                                                        + ["prompt-response"] * 2 + ["openai"] * 2)
    assert records[1]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert records[3]["messages"][0]["content"] == "Sum these numbers.\n\n1, 2, 3"
    assert records[4]["messages"] == [{"role": "user", "content": "What is nil?"},
                                      {"role": "assistant", "content": "The absence of a value."}]
    assert records[7]["messages"][0]["role"] == "system"  # developer -> system
    assert records[7]["messages"][1]["content"] == "Comment syntax?"  # content parts joined
    assert not (tmp_path / "chat.jsonl.rejects.jsonl").exists()


def test_csv_with_named_columns_and_jsonl_prompt_response(run, jsonl, tmp_path):
    write, read = jsonl
    (tmp_path / "qa.csv").write_text("q,a,sys\nhello?,hi!,be kind\n", encoding="utf-8")
    write(tmp_path / "qa.jsonl", [{"question": "2+2?", "answer": "4"}])
    out = tmp_path / "out.jsonl"
    run("data", "convert", "dialogue", tmp_path / "qa.csv", "--prompt-column", "q",
        "--response-column", "a", "--system-column", "sys", "-o", out, ok=True)
    assert read(out)[0]["messages"] == [{"role": "system", "content": "be kind"},
                                        {"role": "user", "content": "hello?"},
                                        {"role": "assistant", "content": "hi!"}]
    run("data", "convert", "dialogue", tmp_path / "qa.jsonl", "-o", out, ok=True)
    assert read(out)[0]["messages"][1] == {"role": "assistant", "content": "4"}


def test_validation_rejects_with_reasons(run, jsonl, tmp_path):
    write, read = jsonl
    write(tmp_path / "bad.jsonl", [
        {"messages": [{"role": "user", "content": "only a question"}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": "x"}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "system", "content": "late"},
                      {"role": "assistant", "content": "a"}]},
        {"messages": [{"role": "user", "content": "ok?"}, {"role": "assistant", "content": "ok"}]},
    ])
    out = tmp_path / "out.jsonl"
    result = run("data", "convert", "dialogue", tmp_path / "bad.jsonl", "-o", out, ok=True)
    assert "read 5, written 1, rejected 4" in result.output
    rejects = read(tmp_path / "out.jsonl.rejects.jsonl")
    reasons = [r["reason"] for r in rejects]
    assert "user and one assistant" in reasons[0]
    assert "unknown role 'tool'" in reasons[1]
    assert "empty content" in reasons[2]
    assert "system message may only come first" in reasons[3]
    assert [r["source"]["line"] for r in rejects] == [1, 2, 3, 4]


def test_consecutive_same_role_merged_or_rejected(run, jsonl, tmp_path):
    write, read = jsonl
    write(tmp_path / "in.jsonl", [{"messages": [
        {"role": "user", "content": "part one"}, {"role": "user", "content": "part two"},
        {"role": "assistant", "content": "answer"}]}])
    out = tmp_path / "out.jsonl"
    run("data", "convert", "dialogue", tmp_path / "in.jsonl", "-o", out, ok=True)
    assert read(out)[0]["messages"][0] == {"role": "user", "content": "part one\n\npart two"}
    result = run("data", "convert", "dialogue", tmp_path / "in.jsonl", "-o", out,
                 "--same-role", "reject", ok=True)
    assert "read 1, written 0, rejected 1" in result.output
    assert "two consecutive user turns" in read(tmp_path / "out.jsonl.rejects.jsonl")[0]["reason"]


def test_exact_duplicates_removed_and_counted(run, jsonl, tmp_path):
    write, read = jsonl
    write(tmp_path / "a.jsonl", OPENAI + OPENAI[:1])
    write(tmp_path / "b.jsonl", [{"conversations": [{"from": "human", "value": "Concatenate strings?"},
                                                     {"from": "gpt", "value": "Use `..`."}]}])
    out = tmp_path / "out.jsonl"
    result = run("data", "convert", "dialogue", tmp_path / "a.jsonl", tmp_path / "b.jsonl",
                 "-o", out, ok=True)
    assert "read 4, written 2, rejected 0, duplicates 2" in result.output
    assert len(read(out)) == 2


def test_test_split_is_seeded_and_exact(run, jsonl, tmp_path):
    write, read = jsonl
    write(tmp_path / "in.jsonl", [{"prompt": f"q{i}", "response": f"a{i}"} for i in range(50)])
    out = tmp_path / "chat.jsonl"
    result = run("data", "convert", "dialogue", tmp_path / "in.jsonl", "-o", out, "--test-size",
                 "0.2", "--seed", "7", ok=True)
    assert "written 50" in result.output
    train, test = read(tmp_path / "chat.train.jsonl"), read(tmp_path / "chat.test.jsonl")
    assert (len(train), len(test)) == (40, 10)
    assert not out.exists()
    prompts = {r["messages"][0]["content"] for r in train + test}
    assert len(prompts) == 50
    run("data", "convert", "dialogue", tmp_path / "in.jsonl", "-o", out, "--test-size", "0.2",
        "--seed", "7", ok=True)
    assert read(tmp_path / "chat.test.jsonl") == test
    run("data", "convert", "dialogue", tmp_path / "in.jsonl", "-o", out, "--test-size", "10",
        "--seed", "8", ok=True)
    assert len(read(tmp_path / "chat.test.jsonl")) == 10
    assert read(tmp_path / "chat.test.jsonl") != test


def test_parquet_and_hf_outputs_load_with_datasets(run, jsonl, tmp_path):
    import datasets

    write, _ = jsonl
    write(tmp_path / "in.jsonl", SHAREGPT)
    write(tmp_path / "in2.jsonl", OPENAI)
    run("data", "convert", "dialogue", tmp_path / "in.jsonl", tmp_path / "in2.jsonl", "-o",
        tmp_path / "chat.parquet", "--format", "parquet", ok=True)
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "chat.parquet"), split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert len(ds) == 4 and ds[0]["messages"][0]["role"] == "user"
    run("data", "convert", "dialogue", tmp_path / "in.jsonl", tmp_path / "in2.jsonl", "-o",
        tmp_path / "chat_hf", "--format", "hf", "--test-size", "1", ok=True)
    dd = datasets.load_from_disk(str(tmp_path / "chat_hf"))
    assert set(dd) == {"train", "test"} and len(dd["train"]) == 3 and len(dd["test"]) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_progress_bar_on_larger_inputs(run, jsonl, tmp_path):
    write, _ = jsonl
    write(tmp_path / "in.jsonl", [{"prompt": f"q{i}", "response": "a"} for i in range(400)])
    result = run("data", "convert", "dialogue", tmp_path / "in.jsonl", "-o", tmp_path / "o.jsonl",
                 ok=True)
    assert "dialogue:" in result.stderr and "rec" in result.stderr
    quiet = run("data", "convert", "dialogue", tmp_path / "in.jsonl", "-o", tmp_path / "o.jsonl",
                "--no-progress", ok=True)
    assert "rec" not in quiet.stderr


# -- bad input ------------------------------------------------------------------------------------


def test_missing_file_exit_2(run, tmp_path):
    result = run("data", "convert", "dialogue", tmp_path / "nope.jsonl", "-o", tmp_path / "o.jsonl")
    assert result.exit_code == 2
    assert "nope.jsonl: file not found" in result.output
    assert not (tmp_path / "o.jsonl").exists()


def test_not_utf8_names_file_and_line(run, tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"prompt": "a", "response": "b"}\n{"prompt": "caf\xe9", "response": "x"}\n')
    result = run("data", "convert", "dialogue", path, "-o", tmp_path / "o.jsonl")
    assert result.exit_code == 2
    assert "latin.jsonl:2: not UTF-8" in result.output
    assert not (tmp_path / "o.jsonl").exists()


def test_malformed_json_line_error_or_rejected(run, jsonl, tmp_path):
    _, read = jsonl
    path = tmp_path / "broken.jsonl"
    path.write_text('{"prompt": "a", "response": "b"}\n{"prompt": "c", \n'
                    '{"prompt": "d", "response": "e"}\n', encoding="utf-8")
    result = run("data", "convert", "dialogue", path, "-o", tmp_path / "o.jsonl")
    assert result.exit_code == 2
    assert "broken.jsonl:2: invalid JSON" in result.output
    result = run("data", "convert", "dialogue", path, "-o", tmp_path / "o.jsonl", "--skip-malformed",
                 ok=True)
    assert "read 3, written 2, rejected 1" in result.output
    reject = read(tmp_path / "o.jsonl.rejects.jsonl")[0]
    assert reject["source"] == {"file": str(path), "line": 2} and "invalid JSON" in reject["reason"]


@pytest.mark.parametrize("args", [[], ["--prompt-column", "question"]])
def test_csv_without_named_column_exit_2(run, tmp_path, args):
    path = tmp_path / "t.csv"
    path.write_text("input,output_text\nx,y\n", encoding="utf-8")
    result = run("data", "convert", "dialogue", path, "-o", tmp_path / "o.jsonl", *args)
    assert result.exit_code == 2
    column = args[1] if args else "prompt"
    assert "t.csv:1" in result.output and f"no column '{column}'" in result.output


def test_format_override_and_mismatch_rejected(run, jsonl, tmp_path):
    write, read = jsonl
    write(tmp_path / "in.jsonl", [ALPACA[0], OPENAI[0]])
    out = tmp_path / "o.jsonl"
    result = run("data", "convert", "dialogue", tmp_path / "in.jsonl", "-o", out,
                 "--input-format", "alpaca", ok=True)
    assert "read 2, written 1, rejected 1" in result.output
    assert "not Alpaca" in read(tmp_path / "o.jsonl.rejects.jsonl")[0]["reason"]
