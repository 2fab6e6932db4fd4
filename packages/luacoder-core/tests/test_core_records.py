from __future__ import annotations

import json

import pytest
from luacoder_core.errors import InputError
from luacoder_core.records import (
    Malformed,
    RecordError,
    RecordWriter,
    iter_records,
    read_records,
    rejects_path,
    require_columns,
    validate,
    write_records,
)


@pytest.mark.parametrize("kind,record,reason", [
    ("api", {"kind": "function"}, "missing 'name'"),
    ("api", {"name": "tween.new", "kind": "klass"}, "'kind' must be one of"),
    ("api", {"name": "tween.new", "examples": [3]}, "examples[0] must be a string"),
    ("api", {"name": "tween.new", "signatures": "tween.new()"}, "'signatures' must be a list"),
    ("api", {"name": "tween.new", "deprecated": "yes"}, "'deprecated' must be true or false"),
    ("code", {"content": "   "}, "'content' is empty"),
    ("code", ["not", "an", "object"], "must be a JSON object"),
    ("conversation", {"messages": [{"role": "user", "content": "hi"}]}, "at least one user and one assistant"),
    ("conversation", {"messages": [{"role": "bot", "content": "hi"}]}, "unknown role 'bot'"),
    ("conversation", {"messages": [{"role": "user", "content": "q"}, {"role": "system", "content": "s"},
                                   {"role": "assistant", "content": "a"}]}, "system message may only come first"),
    ("conversation", {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]}, "empty content"),
    ("preference", {"prompt": "p", "chosen": "x"}, "missing 'rejected'"),
    ("preference", {"prompt": "p", "chosen": "x", "rejected": "x"}, "identical"),
    ("generation", {"prompt": "p"}, "missing 'output'"),
])
def test_validators_give_reasons(kind, record, reason):
    with pytest.raises(RecordError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        validate(kind, record)


@pytest.mark.parametrize("kind,record", [
    ("api", {"name": "uv.fs_open"}),
    ("api", {"name": "Tween:update", "kind": "method", "params": [{"name": "dt", "optional": False}],
             "examples": ["t:update(0.1)"], "source": {"file": "a.md", "line": 3}}),
    ("api", {"name": "torch.Tensor", "signatures": ["torch.Tensor()", "torch.Tensor(sizes)"],
             "deprecated": False}),
    ("code", {"content": "print(1)", "source": "a.lua"}),
    ("conversation", {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                                   {"role": "assistant", "content": "a"}]}),
    ("preference", {"prompt": [{"role": "user", "content": "q"}], "chosen": "a", "rejected": "b"}),
    ("generation", {"prompt": "p", "output": ""}),
])
def test_valid_records_pass(kind, record):
    validate(kind, record)


def test_readers_take_every_format_with_sources(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "a.jsonl").write_text('{"content": "a"}\n\n{"content": "b"}\n')
    (tmp_path / "b.json").write_text('[{"content": "c"}, {"content": "d"}]')
    (tmp_path / "c.csv").write_text('content,license\n"e, with comma",MIT\nf,\n')
    pq.write_table(pa.Table.from_pylist([{"content": "g"}]), tmp_path / "d.parquet")
    got = [(s.record["content"], s.line) for name in ("a.jsonl", "b.json", "c.csv", "d.parquet")
           for s in iter_records(tmp_path / name)]
    assert got == [("a", 1), ("b", 3), ("c", 1), ("d", 2), ("e, with comma", 2), ("f", 3), ("g", 1)]


def test_reader_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"content": "a"}\n{"content": \n')
    with pytest.raises(InputError) as err:
        read_records(bad)
    assert str(err.value).startswith(f"{bad}:2: invalid JSON")
    items = list(iter_records(bad, on_malformed="yield"))
    assert isinstance(items[1], Malformed) and items[1].line == 2
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"content": "ok"}\n{"content": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"latin.jsonl:2: not UTF-8"):
        read_records(latin)
    with pytest.raises(InputError, match="file not found"):
        read_records(tmp_path / "missing.jsonl")
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("question,answer\nq,a\n")
    with pytest.raises(InputError, match=r"p.csv:1: no column 'prompt' \(columns: question, answer\)"):
        require_columns(csv_path, ["prompt"])


def test_writer_is_atomic_and_keeps_rejects(tmp_path):
    out = tmp_path / "out" / "code.jsonl"
    summary = write_records(out, [{"content": "a"}, {"content": ""}, {"content": "b"}], kind="code")
    assert summary.line() == "read 3, written 2, rejected 1" and summary.balanced
    assert [json.loads(x)["content"] for x in out.read_text().splitlines()] == ["a", "b"]
    rejected = json.loads(rejects_path(out).read_text())
    assert rejected["reason"] == "'content' is empty" and rejected["record"] == {"content": ""}

    # a run that fails half way leaves the previous output untouched and no temp files behind
    with pytest.raises(RuntimeError):
        with RecordWriter(out, kind="code") as writer:
            writer.write({"content": "new"})
            raise RuntimeError("killed")
    assert [json.loads(x)["content"] for x in out.read_text().splitlines()] == ["a", "b"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["code.jsonl", "code.jsonl.rejects.jsonl"]

    # a clean rerun removes the stale rejects file
    write_records(out, [{"content": "c"}], kind="code")
    assert not rejects_path(out).exists()


def test_jsonl_is_streamed_and_json_variants_are_read(tmp_path):
    big = tmp_path / "big.jsonl"
    with big.open("w") as fh:
        for i in range(20000):
            fh.write(json.dumps({"content": f"x = {i}"}) + "\n")
    items = iter_records(big)
    first = next(items)
    assert first.record == {"content": "x = 0"} and first.line == 1
    assert sum(1 for _ in items) == 19999
    lines_as_json = tmp_path / "records.json"
    lines_as_json.write_text('{"content": "a"}\n{"content": "b"}\n')
    assert [s.record["content"] for s in iter_records(lines_as_json)] == ["a", "b"]
    array_as_jsonl = tmp_path / "array.jsonl"
    array_as_jsonl.write_text('\ufeff[{"content": "a"},\n {"content": "b"}]')
    assert [s.record["content"] for s in iter_records(array_as_jsonl)] == ["a", "b"]
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes('\ufeff{"content": "a"}\r\n{"content": "b"}\r\n'.encode())
    assert [(s.record["content"], s.line) for s in iter_records(bom)] == [("a", 1), ("b", 2)]
