"""``markdown-api`` on the reference styles real projects use (small documents written for these
tests in each style), what is not a markdown reference, one big file streamed, and the
development set of real references (``../shared/data/docs/real``) scored against its name lists."""

from __future__ import annotations

import json

import pytest

SPACED = """\
# Funcy: functional helpers

```lua
local F = require("funcy")
```

## Table functions

### clear (t)

Clears a table.

```lua
F.clear({1, 2, 3}) -- => {}
```

### each (t, f)

Calls f on each value.

```lua
F.each({4, 2}, print)
```

### count (t [, val])

Counts values.

```lua
F.count({1, 1, 2}, 1) -- => 2
```

### keys (t)

Its keys.

```lua
F.keys({a = 1}) -- => {"a"}
```

### size (t)

Its size (no example: it belongs to the document's module table all the same).

### Example (advanced)

Prose, not a function.
"""


def test_space_before_parenthesis_and_module_from_examples(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("funcy.md", SPACED))
    assert set(records) == {"F.clear", "F.each", "F.count", "F.keys", "F.size"}  # examples call F.x
    count = records["F.count"]
    assert count["signature"] == "F.count(t [, val])"
    assert [(p["name"], p["optional"]) for p in count["params"]] == [("t", False), ("val", True)]


TYPED = """\
# Grid

<a name="grid.Grid.dok"></a>
## Constructors

### grid.Grid(rows, cols) ###

Makes a grid.

### grid.Grid(table) ###

From a table.

## Methods

<a name="grid.Grid.narrow"></a>
### [Grid] narrow(dim, index, size) ###

A narrowed view. {{since('1.2.0')}}

### [number] count ###

How many cells.

### [Grid] byte(), char(), short() ###

Conversions.

### [LongStorage] #self ###

Not a name.

### [Grid] pick(dim1s, dim1e ... [, dim4s [, dim4e]]) ###

Picks.

### [Grid] scatter(dim, index, src|val) ###

Scatters.
"""


def test_return_type_first_several_names_and_signatures(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("grid.md", TYPED))
    assert set(records) == {"grid.Grid", "narrow", "count", "byte", "char", "short", "pick",
                            "scatter"}
    narrow = records["narrow"]
    assert narrow["returns"] == [{"type": "Grid", "description": ""}]
    assert narrow["description"] == "A narrowed view."  # no anchor, no template tag
    assert records["count"]["kind"] == "function"
    assert records["grid.Grid"]["signatures"] == ["grid.Grid(rows, cols)", "grid.Grid(table)"]
    assert [p["name"] for p in records["pick"]["params"]][-1] == "dim4e"
    assert records["scatter"]["params"][-1]["name"] == "src|val"


SEVERAL_MODULES = """\
# Filters

Prose. Setting this flag is deprecated in old versions (prose, not a marker).

# Module pandoc.mediabag

## Functions

### delete {#pandoc.mediabag.delete}

`delete (filepath)`

Removes an entry.

Parameters:

`filepath`
:   Filename of the item. (string)

# Module pandoc.path

### delete {#pandoc.path.delete}

`delete (path)`

Another function of another module.

#### options.depth

Depth of the table of contents.

## Deprecated functions

### pandoc.path.old(x)

Something old.
"""


def test_several_modules_anchors_options_and_deprecated_sections(run, jsonl, tmp_path, convert_markdown):
    result, records = convert_markdown(("pandoc.md", SEVERAL_MODULES))
    assert set(records) == {"pandoc.mediabag.delete", "pandoc.path.delete", "options.depth",
                            "pandoc.path.old"}
    assert "duplicates" not in result.output  # two deletes of two modules are not merged
    delete = records["pandoc.mediabag.delete"]
    assert delete["params"] == [{"name": "filepath", "type": "string",
                                 "description": "Filename of the item.", "optional": False}]
    assert delete["description"] == "Removes an entry."
    assert records["options.depth"]["kind"] == "field"
    assert records["pandoc.path.old"]["deprecated"] is True
    assert not any(r["deprecated"] for n, r in records.items() if n != "pandoc.path.old")


PROSE_HEADING = """\
# tween.lua

## Tween creation

```lua
local t = tween.new(duration, subject, target, [easing])
```

Creates a new tween.

## Tween methods

```lua
local complete = t:update(dt)
```

Moves the tween on.

## Example

```lua
local t = tween.new(2, label, {x = 300}, 'linear')
```
"""


def test_signature_in_a_code_block_under_a_prose_heading(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("tween.md", PROSE_HEADING))
    assert set(records) == {"tween.new", "t:update"}  # the example block is not a signature
    new = records["tween.new"]
    assert [(p["name"], p["optional"]) for p in new["params"]] == [
        ("duration", False), ("subject", False), ("target", False), ("easing", True)]
    assert new["returns"] == [{"name": "t", "type": None, "description": ""}]
    assert records["t:update"]["returns"][0]["name"] == "complete"


RETURNS = """\
# client

connect
-------
`syntax: ok, err = client:connect(host, port)`

Connects.

incr
----
**syntax:** *newval, err, forcible? = client.DICT:incr(key, value, init?)*

Increments.

### `tree:get_node`

_Signature:_ `tree:get_node(id) -> NuiTree.Node`

Gets a node.

| Name | Type     | Description |
| ---- | -------- | ----------- |
| `id` | `string` | node id     |

### `tree:set`

_Signature:_ `tree:set(config)`

Sets things.

`config` is a `table` having the following keys:

| Key      | Type     |
| -------- | -------- |
| `size`   | `number` |
| `anchor` | `string` |

### `pane:split{}`

Splits the pane.

### `log(msg, ..)`

Logs.

### `emit(event, args...)`

Emits.
"""


def test_returns_on_the_left_arrows_tables_and_varargs(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("client.md", RETURNS))
    assert [r["name"] for r in records["client:connect"]["returns"]] == ["ok", "err"]
    incr = records["client.DICT:incr"]
    assert [(r["name"], r.get("optional", False)) for r in incr["returns"]] == [
        ("newval", False), ("err", False), ("forcible", True)]
    node = records["tree:get_node"]
    assert node["returns"] == [{"type": "NuiTree.Node", "description": ""}]
    assert node["params"] == [{"name": "id", "type": "string", "description": "node id",
                               "optional": False}]  # a table without a Parameters label
    (config,) = records["tree:set"]["params"]
    assert config["type"] == "table"
    assert [f["name"] for f in config["fields"]] == ["size", "anchor"]
    assert records["pane:split"]["signature"] == "pane:split{}"
    assert records["log"]["params"][-1]["name"] == "..."
    emit = records["emit"]["params"][-1]
    assert emit["name"] == "args" and emit["optional"] and emit["vararg"]


OPTIONS_PAGE = """\
# Popup

Creates a popup.

```lua
local Popup = require("ui.popup")
local popup = Popup({ enter = true })
```

## Options

### `border`

**Type:** `table`

Border options.

### `enter`

**Type:** `boolean`

Focus on mount.

## Methods

### `popup:mount`

_Signature:_ `popup:mount()`

Mounts it.
"""


def test_option_headings_and_a_constructor_page(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("popup.md", OPTIONS_PAGE))
    assert set(records) == {"Popup", "border", "enter", "popup:mount"}
    assert records["Popup"]["kind"] == "function"
    assert records["border"]["kind"] == "field" and records["border"]["type"] == "table"


def test_an_index_page_does_not_win_over_the_real_page(run, jsonl, tmp_path, convert_markdown):
    index = "# Functions\n\n## `term.open(path)`\n\nSee [term.open](open.md).\n"
    page = ("# `term.open(path, mode)`\n\nOpens a terminal at path.\n\n**Parameters**\n\n"
            "* `path` (`string`): where\n* `mode` (`string`, _optional_): how\n\n"
            "```lua\nterm.open('/dev/tty')\n```\n")
    result, records = convert_markdown(("a_index.md", index), ("open.md", page))
    record = records["term.open"]
    assert record["source"]["file"].endswith("open.md") and len(record["params"]) == 2
    assert record["signatures"] == ["term.open(path, mode)", "term.open(path)"]
    assert "duplicates 1" in result.output


def test_deprecated_only_from_a_marker(run, jsonl, tmp_path, convert_markdown):
    doc = ("# m\n\n## m.a(x)\n\nPassing a string as x is deprecated since 2.0.\n\n"
           "## m.b(x)\n\n> **Deprecated:** use m.a.\n\n## m.d(x)\n\nThis function is now deprecated.\n")
    _, records = convert_markdown(("m.md", doc))
    assert {n: r["deprecated"] for n, r in records.items()} == {
        "m.a": False, "m.b": True, "m.d": True}


def test_files_that_are_not_markdown_references(run, jsonl, tmp_path):
    (tmp_path / "lib.lua").write_text("---@meta\nfunction lib.f() end\n", encoding="utf-8")
    (tmp_path / "ref.rst").write_text("fio\n===\n\n.. function:: fio.open(path)\n",
                                      encoding="utf-8")
    (tmp_path / "mod.html").write_text('<!DOCTYPE html><html><head><meta name="generator" '
                                       'content="LDoc"></head></html>', encoding="utf-8")
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    (tmp_path / "guide.md").write_text("# Guide\n\n## Installing\n\nRun it.\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    names = ["lib.lua", "ref.rst", "mod.html", "empty.md", "guide.md"]
    result = run("data", "convert", "markdown-api", *(tmp_path / n for n in names), "-o", out)
    assert result.exit_code == 2 and not out.exists()
    text = result.output
    assert "lib.lua: a Lua source file" in text and "lua-api" in text
    assert "ref.rst: reStructuredText" in text
    assert "mod.html: LDoc's HTML output" in text
    assert "empty.md: empty file" in text
    assert "guide.md: no API entries" in text
    # with one usable file the others are still named, and the run succeeds
    good = tmp_path / "good.md"
    good.write_text("## m.f(x)\n\nDoes f.\n", encoding="utf-8")
    result = run("data", "convert", "markdown-api", good, tmp_path / "ref.rst", "-o", out, ok=True)
    assert "ref.rst: reStructuredText" in result.output and len(jsonl[1](out)) == 1


def test_a_big_file_streams_in_pieces(run, jsonl, tmp_path, monkeypatch, convert_markdown):
    """Pieces are cut at level 1-2 headings: names, line numbers and module context survive."""
    import luacoder_data.converters.markdown_api as md

    monkeypatch.setattr(md, "_CHUNK_LINES", 20)
    parts = ["# Module big.mod\n\n"]
    for k in range(40):
        parts.append(f"## f{k}\n\n`f{k} (x)`\n\nDoes {k}.\n\n```lua\nlocal y = 1\n```\n\n")
    text = "".join(parts)
    _, records = convert_markdown(("big.md", text))
    assert set(records) == {f"big.mod.f{k}" for k in range(40)}
    lines = text.split("\n")
    for k in (0, 17, 39):
        line = records[f"big.mod.f{k}"]["source"]["line"]
        assert lines[line - 1] == f"## f{k}"
    assert records["big.mod.f17"]["description"] == "Does 17."


# -- the development set of real references ------------------------------------------------------


def test_development_set_recall_and_precision(run, jsonl, shared_data, tmp_path):
    from luacoder_data.api_names import score_names

    real = shared_data / "docs" / "real"
    if not (real / "expected").is_dir():
        pytest.skip(f"no development set at {real}")
    scores = {}
    for expected in sorted((real / "expected").glob("*.txt")):
        doc = expected.stem
        src = real / doc if (real / doc).is_dir() else real / f"{doc}.md"
        out = tmp_path / f"{doc}.jsonl"
        run("data", "convert", "markdown-api", src, "-o", out, ok=True)
        names = [r["name"] for r in jsonl[1](out)]
        s = score_names(names, expected.read_text(encoding="utf-8").splitlines())
        scores[doc] = (round(s.recall, 3), round(s.precision, 3), s.missing[:5], s.extra[:5])
    assert len(scores) >= 6
    assert all(r >= 0.95 and p >= 0.95 for r, p, _, _ in scores.values()), scores
    for prose in (real / "prose").glob("*.md"):
        out = tmp_path / "prose.jsonl"
        result = run("data", "convert", "markdown-api", prose, "-o", out)
        assert len(jsonl[1](out)) <= 2 if out.exists() else result.exit_code == 2
    for odd in (real / "unsupported").glob("*"):
        result = run("data", "convert", "markdown-api", odd, "-o", tmp_path / "odd.jsonl")
        assert result.exit_code == 2 and odd.name in result.output
        assert "lua-api" in result.output or "reStructuredText" in result.output


def test_development_set_record_quality(run, jsonl, shared_data, tmp_path):
    real = shared_data / "docs" / "real"
    out = tmp_path / "redis.jsonl"
    run("data", "convert", "markdown-api", real / "resty_redis.md", "-o", out, ok=True)
    redis = {r["name"]: r for r in jsonl[1](out)}
    assert [r["name"] for r in redis["red:connect"]["returns"]][:2] == ["ok", "err"]
    out = tmp_path / "wez.jsonl"
    run("data", "convert", "markdown-api", real / "wezterm", "-o", out, ok=True)
    wez = jsonl[1](out)
    assert not any("{{" in r["description"] or "since(" in r["description"] for r in wez)
    # a page holding a table of thousands of icons: no HTML, no giant table in the description
    assert max(len(r["description"]) for r in wez) < 10_000
    assert not any("<span" in r["description"] or "<style" in r["description"] for r in wez)
    out = tmp_path / "moses.jsonl"
    run("data", "convert", "markdown-api", real / "moses_tutorial.md", "-o", out, ok=True)
    assert not any("(#TOC)" in r["description"] or "<br" in r["description"]
                   for r in jsonl[1](out))
    out = tmp_path / "torch.jsonl"
    run("data", "convert", "markdown-api", real / "torch_tensor.md", "-o", out, ok=True)
    torch = {r["name"]: r for r in jsonl[1](out)}
    assert len(torch["torch.Tensor"]["signatures"]) >= 5
    assert not any("<a name" in r["description"] for r in torch.values())
    # `# Tensor` page whose examples call `x:narrow(...)`: the methods are `Tensor:narrow`
    assert json.dumps(torch["Tensor:narrow"]["returns"]) == '[{"type": "self", "description": ""}]'
    assert torch["Tensor:narrow"]["kind"] == "method"
    assert len(torch["Tensor:size"]["signatures"]) == 2


LIST_STYLE = """\
# utf8x

## API

- `utf8x.len(s [, i [, j]])`: the number of characters in s.
- `utf8x.char(...)` - makes a string from code points.
- **`utf8x.codes(s)`** iterates over code points.

## Notes

- `print(x)` is not part of this library.
- Calling `utf8x.len("abc")` returns 3.
"""


def test_a_reference_written_as_a_bullet_list(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("utf8x.md", LIST_STYLE))
    assert set(records) == {"utf8x.len", "utf8x.char", "utf8x.codes"}
    assert [p["optional"] for p in records["utf8x.len"]["params"]] == [False, True, True]
    assert records["utf8x.char"]["description"] == "makes a string from code points."
    # two such items are a mention, not a reference
    _, few = convert_markdown(("few.md", "# x\n\n## m.f(a)\n\nF.\n\n"
                                        "- `m.g(x)`: g\n- `m.h(y)`: h\n"), folder="few")
    assert set(few) == {"m.f"}


def test_signature_tables_and_lone_signature_paragraphs(run, jsonl, tmp_path, convert_markdown):
    tables = ("# hs.alert\n\n## API Documentation\n\n| [show](#show) | |\n| --- | --- |\n"
              "| **Signature** | `hs.alert.show(str, [style], [seconds]) -> uuid` |\n"
              "| **Type** | Function |\n| **Description** | Shows an alert |\n")
    _, records = convert_markdown(("hs.md", tables))
    show = records["hs.alert.show"]
    assert show["returns"] == [{"type": "uuid", "description": ""}]
    assert show["description"] == "Shows an alert"
    assert [p["optional"] for p in show["params"]] == [False, True, True]
    lone = ("# strx\n\n**strx.trim(s)**\n\nTrims s.\n\n**strx.pad(s, n [, ch])**\n\nPads s\n"
            "to n.\n\n`strx.rev(s)`\n\nReverses.\n")
    _, records = convert_markdown(("strx.md", lone), folder="lone")
    assert set(records) == {"strx.trim", "strx.pad", "strx.rev"}
    assert records["strx.pad"]["description"] == "Pads s to n."


def test_pandoc_style_returns_and_empty_parameter_lists(run, jsonl, tmp_path, convert_markdown):
    doc = ("## Module pandoc.mediabag\n\n### empty {#pandoc.mediabag.empty}\n\n`empty ()`\n\n"
           "Clears it.\n\n### fetch {#pandoc.mediabag.fetch}\n\n`fetch (source)`\n\nFetches.\n\n"
           "Parameters:\n\n`source`\n:   path to a resource; a local path\n    or URI (string)\n\n"
           "Returns:\n\n-   the MIME type, or nil if not found.\n    (string)\n")
    _, records = convert_markdown(("mediabag.md", doc))
    assert records["pandoc.mediabag.empty"]["signature"] == "pandoc.mediabag.empty()"
    fetch = records["pandoc.mediabag.fetch"]
    assert fetch["params"] == [{"name": "source", "type": "string", "optional": False,
                                "description": "path to a resource; a local path or URI"}]
    assert fetch["returns"] == [{"type": "string", "description": "the MIME type, or nil if not found."}]


def test_bare_functions_of_a_page_titled_with_its_module(run, jsonl, tmp_path, convert_markdown):
    doc = ("# json.lua\n\nA JSON library.\n\n```lua\nlocal json = require(\"json\")\n```\n\n"
           "## Functions\n\n### encode(value)\n\nEncodes.\n\n### decode(str)\n\nDecodes.\n")
    _, records = convert_markdown(("json.md", doc))
    assert set(records) == {"json.encode", "json.decode"}
    assert records["json.decode"]["signature"] == "json.decode(str)"


SOLAR = """\
# display.newRect()

> --------------------- ------------------------------------------
> __Type__              [Function][api.type.Function]
> __Return value__      [ShapeObject][api.type.ShapeObject]
> --------------------- ------------------------------------------

## Overview

Creates a rectangle object.

## Syntax

\tdisplay.newRect( [parent,] x, y, width )

##### parent ~^(optional)^~
_[GroupObject][api.type.GroupObject]._ A display group to insert the rectangle in.

##### x ~^(required)^~
_[Number][api.type.Number]._ The x coordinate.
"""


def test_one_page_per_function_with_parameter_headings(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("display.newRect.markdown", SOLAR))
    rect = records["display.newRect"]
    assert rect["signature"] == "display.newRect([parent,] x, y, width)"
    assert [(p["name"], p["type"], p["optional"]) for p in rect["params"]] == [
        ("parent", "GroupObject", True), ("x", "Number", False), ("y", None, False),
        ("width", None, False)]
    assert rect["params"][1]["description"] == "The x coordinate."
    assert rect["returns"] == [{"type": "ShapeObject", "description": ""}]
    assert rect["description"] == "Creates a rectangle object."


def test_functions_reached_through_require(run, jsonl, tmp_path, convert_markdown):
    doc = ("### `require(\"telescope.builtin\").find_files(opts)`\n\nLists files.\n\n"
           "### `ok = require('telescope').setup(config)`\n\nSets up.\n")
    _, records = convert_markdown(("tel.md", doc))
    assert set(records) == {"telescope.builtin.find_files", "telescope.setup"}
    assert records["telescope.setup"]["returns"][0]["name"] == "ok"


def test_leading_colon_entries_belong_to_their_class_section(run, jsonl, tmp_path, convert_markdown):
    doc = ("# Library\n\n## Class Timer\n\nA timer.\n\n### Methods\n\n#### `:start(ms)`\n\n"
           "Starts it.\n\n## Vec2\n\n#### .x\n\nThe x coordinate.\n\n#### :len()\n\nIts length.\n")
    _, records = convert_markdown(("lib.md", doc))
    assert {n: r["kind"] for n, r in records.items()} == {
        "Timer:start": "method", "Vec2.x": "field", "Vec2:len": "method"}
    assert records["Timer:start"]["signature"] == "Timer:start(ms)"


def test_parameter_types_in_html_spans(run, jsonl, tmp_path, convert_markdown):
    doc = ("## go.animate(url, duration)\n\nAnimates.\n\n**Parameters**\n\n"
           "- `url` <span class=\"type\">string | hash</span> the game object\n"
           "- `duration` <span class=\"type\">number</span> seconds\n")
    _, records = convert_markdown(("go.md", doc))
    assert records["go.animate"]["params"] == [
        {"name": "url", "type": "string | hash", "description": "the game object", "optional": False},
        {"name": "duration", "type": "number", "description": "seconds", "optional": False}]


INSPECT_STYLE = """\
dump.lua
========

Human-readable representations of tables.

```lua
local dump = require('dump')
assert(dump({1, 2}) == "{ 1, 2 }")
```

### Options

#### options.depth

Sets the maximum depth.

#### options.newline & options.indent

The strings used for a newline and an indent.
"""


def test_a_callable_module_and_headings_naming_several_options(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("dump.md", INSPECT_STYLE))
    assert {n: r["kind"] for n, r in records.items()} == {
        "dump": "function", "options.depth": "field", "options.newline": "field",
        "options.indent": "field"}
    assert records["dump"]["description"] == "Human-readable representations of tables."
    assert records["options.indent"]["description"].startswith("The strings used")


def test_one_page_per_global_function_and_bare_bullet_lists(run, jsonl, tmp_path, convert_markdown):
    page = ("# circ\n\n`circ(x, y, radius)`\n\n## Parameters\n\n"
            "* **x, y** : the coordinates of the center\n* **radius** : the radius in pixels\n")
    _, records = convert_markdown(("circ.md", page))
    assert [(p["name"], p["description"]) for p in records["circ"]["params"]] == [
        ("x", "the coordinates of the center"), ("y", "the coordinates of the center"),
        ("radius", "the radius in pixels")]
    bullets = ("# serial\n\n## Functions\n\n* `line(data, options)`: one line.\n"
               "* `block(data, options)` - indented.\n* `dump(data)` - loadable.\n"
               "* `print(x)` - a Lua global, not this library's.\n")
    _, records = convert_markdown(("serial.md", bullets), folder="b")
    assert set(records) == {"line", "block", "dump"}
