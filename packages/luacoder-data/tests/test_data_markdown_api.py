"""``markdown-api``: each reference style on small documents, bad input, and the two real
references with recall/precision of function names counted independently from their headings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STYLES = """\
---
title: demo
# a comment in front matter, not a heading
---
# Demo library

Some introduction. Prose headings below are not API records.

## Contents

- [Functions](#functions)

## Installation

Run `luarocks install demo`.

### `demo.open(path, flags, [mode])`

> method form `file:open(flags, [mode])`

**Parameters:**
- `path`: `string`
- `flags`: `string` or `integer`
- `mode`: `integer` or `nil` (octal)

Opens a file.

**Returns:** `integer` or `fail`

```lua
local fd = demo.open("/tmp/x", "r")
```

## demo.exit(status[, body[, headers]])

Ends the request.

**Parameters**

* **status** (`number`):  The status to be used.
* **body** (`table|string`, _optional_):  The body to be used.
* **headers** (`table`, _optional_):  The headers.

**Returns**

* `nil`:  Nothing.

**Usage**

``` lua
return demo.exit(403, "Access Forbidden")
```

{% if_version gte:3.0.x %}
## demo.newer(x)

Only in new versions. {{ page.version }}
{% endif_version %}

demo.say
--------
**syntax:** *ok, err = demo.say(...)*

**context:** *content_by_lua&#42;*

Emits arguments concatenated.

demo_cache
----------
**syntax:** *demo_cache on | off*

**default:** *demo_cache on*

**context:** *http, server, location*

An nginx directive, not a Lua function.

connect
-------
`syntax: ok, err = client:connect(host, port?, options_table?)`

Connects to a server.

### Buffer:append(data)

Appends data.

Parameters:

- data (string): bytes to append

### demo.remove(name) (deprecated)

**Deprecated:** use `demo.open` instead.

### demo.ctx

A table shared by the request.

Example (advanced)
------------------

Not a function.
"""


@pytest.fixture
def styles(run, jsonl, tmp_path):
    doc = tmp_path / "styles.md"
    doc.write_text(STYLES, encoding="utf-8")
    out = tmp_path / "api.jsonl"
    result = run("data", "convert", "markdown-api", doc, "-o", out, ok=True)
    records = {r["name"]: r for r in jsonl[1](out)}
    return result, records, tmp_path


def test_every_style_becomes_a_record(styles):
    result, records, _ = styles
    assert set(records) == {"demo.open", "demo.exit", "demo.newer", "demo.say", "client:connect",
                            "Buffer:append", "demo.remove", "demo.ctx"}
    assert "read 9, written 8, rejected 1" in result.output  # the directive is rejected


def test_signature_params_returns_examples(styles):
    _, records, tmp_path = styles
    op = records["demo.open"]
    assert op["kind"] == "function" and op["signature"] == "demo.open(path, flags, [mode])"
    assert [(p["name"], p["type"], p["optional"]) for p in op["params"]] == [
        ("path", "string", False), ("flags", "string or integer", False),
        ("mode", "integer or nil", True)]
    assert op["returns"] == [{"type": "integer or fail", "description": ""}]
    assert op["description"] == "Opens a file."
    assert op["examples"] == ['local fd = demo.open("/tmp/x", "r")\n']
    assert op["aliases"] == [{"name": "file:open", "signature": "file:open(flags, [mode])"}]
    assert op["source"] == {"file": str(tmp_path / "styles.md"), "line": 17}
    ex = records["demo.exit"]
    assert [(p["name"], p["type"], p["optional"]) for p in ex["params"]] == [
        ("status", "number", False), ("body", "table|string", True), ("headers", "table", True)]
    assert ex["returns"] == [{"type": "nil", "description": "Nothing."}]
    assert ex["examples"] == ['return demo.exit(403, "Access Forbidden")\n']


def test_setext_syntax_lines_methods_and_optional_marks(styles):
    _, records, _ = styles
    say = records["demo.say"]
    assert say["signature"] == "demo.say(...)" and say["params"][0]["name"] == "..."
    conn = records["client:connect"]
    assert conn["kind"] == "method"
    assert [(p["name"], p["optional"]) for p in conn["params"]] == [
        ("host", False), ("port", True), ("options_table", True)]
    app = records["Buffer:append"]
    assert app["kind"] == "method" and app["params"][0]["type"] == "string"


def test_deprecated_templates_fields_and_prose(styles):
    _, records, tmp_path = styles
    assert records["demo.remove"]["deprecated"] is True
    assert "demo.open" in records["demo.remove"]["deprecation"]
    assert records["demo.open"]["deprecated"] is False
    assert "{{" not in records["demo.newer"]["description"]
    assert records["demo.ctx"]["kind"] == "field"
    assert not any(name.lower().startswith(("contents", "install", "example")) for name in records)
    rejects = (tmp_path / "api.jsonl.rejects.jsonl").read_text()
    assert "nginx directive" in rejects and "demo_cache" in rejects


def test_heading_level_and_root_options(run, jsonl, tmp_path):
    doc = tmp_path / "bare.md"
    doc.write_text("# mylib\n\n## Functions\n\n### new\n\nCreates a thing.\n\n### free\n\n"
                   "Frees it.\n", encoding="utf-8")
    out = tmp_path / "api.jsonl"
    result = run("data", "convert", "markdown-api", doc, "-o", out)
    # bare words are prose without a signature: nothing usable is an input error naming the file
    assert result.exit_code == 2 and not out.exists()
    assert "bare.md: no API entries" in result.output and "--heading-level" in result.output
    run("data", "convert", "markdown-api", doc, "-o", out, "--heading-level", "3", "--root",
        "mylib", ok=True)
    assert [r["name"] for r in jsonl[1](out)] == ["mylib.new", "mylib.free"]


def test_duplicate_names_keep_the_richest(run, jsonl, tmp_path):
    doc = tmp_path / "dup.md"
    doc.write_text("{% if_version lte:1.0 %}\n## m.f()\n{% endif_version %}\n"
                   "{% if_version gte:1.1 %}\n## m.f([x])\n{% endif_version %}\n\nDoes f.\n\n"
                   "**Parameters**\n\n* **x** (`number`, _optional_): a number\n", encoding="utf-8")
    out = tmp_path / "api.jsonl"
    result = run("data", "convert", "markdown-api", doc, "-o", out, ok=True)
    assert "read 2, written 1, rejected 0, duplicates 1" in result.output
    (record,) = jsonl[1](out)
    assert record["signature"] == "m.f([x])" and record["params"][0]["optional"] is True


def test_folder_and_glob_inputs(run, jsonl, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("## a.one(x)\n\nOne.\n", encoding="utf-8")
    (tmp_path / "docs" / "b.md").write_text("## b.two()\n\nTwo.\n", encoding="utf-8")
    out = tmp_path / "api.jsonl"
    run("data", "convert", "markdown-api", tmp_path / "docs", "-o", out, ok=True)
    assert [r["name"] for r in jsonl[1](out)] == ["a.one", "b.two"]
    run("data", "convert", "markdown-api", str(tmp_path / "docs" / "*.md"), "-o", out, ok=True)
    assert len(jsonl[1](out)) == 2


def test_bad_inputs_exit_2(run, tmp_path):
    missing = run("data", "convert", "markdown-api", tmp_path / "none.md", "-o", tmp_path / "o.jsonl")
    assert missing.exit_code == 2 and "none.md: file not found" in missing.output
    bad = tmp_path / "latin.md"
    bad.write_bytes(b"# t\n\n## m.f()\n\ncaf\xe9\n")
    result = run("data", "convert", "markdown-api", bad, "-o", tmp_path / "o.jsonl")
    assert result.exit_code == 2 and "latin.md:5: not UTF-8" in result.output
    glob = run("data", "convert", "markdown-api", str(tmp_path / "*.nothing"), "-o", tmp_path / "o.jsonl")
    assert glob.exit_code == 2 and "no file matches" in glob.output


# -- the real references --------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")


def true_function_names(paths: list[Path], heading: str) -> set[str]:
    """Function names counted independently of the converter: every heading line of the given
    level (outside code fences) that starts with a name chain followed by ``(`` (plain or in a
    code span)."""
    pattern = re.compile(rf"^{heading}\s+`?([A-Za-z_]\w*(?:[.:][A-Za-z_]\w*)*)\s*\(")
    names: set[str] = set()
    for path in paths:
        fence = False
        for line in path.read_text(encoding="utf-8").splitlines():
            if _FENCE.match(line):
                fence = not fence
                continue
            m = None if fence else pattern.match(line)
            if m:
                names.add(m.group(1))
    return names


def recall_precision(truth: set[str], records: list[dict]) -> tuple[float, float]:
    found = {r["name"] for r in records if r["kind"] in ("function", "method")}
    hit = len(truth & found)
    return hit / len(truth), hit / max(len(found), 1)


def test_luv_reference(run, jsonl, shared_data, tmp_path):
    doc = shared_data / "docs" / "luv" / "docs.md"
    out = tmp_path / "luv.jsonl"
    result = run("data", "convert", "markdown-api", doc, "-o", out, ok=True)
    records = jsonl[1](out)
    assert len(records) >= 230
    truth = true_function_names([doc], "###")
    assert len(truth) >= 230
    recall, precision = recall_precision(truth, records)
    assert recall >= 0.98 and precision >= 0.98, (recall, precision)
    assert "rejected 0" in result.output
    by_name = {r["name"]: r for r in records}
    fs_open = by_name["uv.fs_open"]
    assert [p["optional"] for p in fs_open["params"]] == [False, False, False, True]
    assert {r.get("variant") for r in fs_open["returns"]} == {"sync version", "async version"}
    assert by_name["uv.getpid"]["deprecated"] is True
    assert sum(1 for r in records if r.get("aliases")) >= 100  # "> method form" lines
    assert sum(1 for r in records if r["params"]) >= 170
    assert all(r["description"] for r in records if not r["deprecated"])


def test_kong_pdk_reference(run, jsonl, shared_data, tmp_path):
    folder = shared_data / "docs" / "kong-pdk"
    docs = sorted(folder.glob("*.md"))
    out = tmp_path / "kong.jsonl"
    run("data", "convert", "markdown-api", *docs, "-o", out, ok=True)
    records = jsonl[1](out)
    truth = true_function_names(docs, "##")
    assert len(truth) >= 120
    recall, precision = recall_precision(truth, records)
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)
    by_name = {r["name"]: r for r in records}
    exit_ = by_name["kong.response.exit"]
    assert [(p["name"], p["optional"]) for p in exit_["params"]] == [
        ("status", False), ("body", True), ("headers", True)]
    assert exit_["examples"] and "phases" in exit_
    assert by_name["kong.ctx.shared"]["kind"] == "field"
    assert not any("{%" in r["description"] or "if_version" in r["description"] for r in records)
    assert not any(r["source"]["file"].endswith("NOTES.md") for r in records)


def test_method_forms_as_records(run, jsonl, tmp_path):
    doc = tmp_path / "styles.md"
    doc.write_text(STYLES, encoding="utf-8")
    out = tmp_path / "api.jsonl"
    run("data", "convert", "markdown-api", doc, "-o", out, "--method-forms", "records", ok=True)
    records = {r["name"]: r for r in jsonl[1](out)}
    alias = records["file:open"]
    assert alias["kind"] == "method" and alias["alias_of"] == "demo.open"
    assert [p["name"] for p in alias["params"]] == ["flags", "mode"]
