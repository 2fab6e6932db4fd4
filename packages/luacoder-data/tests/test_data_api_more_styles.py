"""``markdown-api`` on further reference styles met in real projects' documentation (each
fixture is a small document written for these tests in that style): typed field headings and
Luau-like signatures, headings without a space after the hashes, admonitions, pages with no
heading named by their file, and sections that name the module their functions are loaded into."""

from __future__ import annotations

TYPED = """\
## Hub

### `Hub.Workers: {Worker}`

Every worker the hub started.

### `Hub.Mode: EnumList`

How workers are found.

### `Hub.Launch()` -> `Promise`

Starts the hub.

### `Hub.Scan(mode: Mode, ...folders)`

Finds workers in the folders.

### `Hub.Configure(settings: Map<string, boolean>) -> ()`

Sets options.

## Worker

### `Worker.Label: string`

Its name.

### `Worker:Boot()` -> `()`

Called once.

## Lifecycle

### defaults
```
static defaults: Map<any, any>
```

Values for missing props.

### refresh
```
refresh(patch | updater) -> ()
```

Requests an update.

### check
```
static check(props) -> (false, string) | true
```

Validates props.

### Note: fields are read-only

Prose, not an entry.
"""


def test_typed_field_headings_and_luau_signatures(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("hub.md", TYPED))
    assert set(records) == {"Hub.Workers", "Hub.Mode", "Hub.Launch", "Hub.Scan", "Hub.Configure",
                            "Worker.Label", "Worker:Boot", "defaults", "refresh", "check"}
    assert records["Hub.Workers"]["kind"] == "field"
    assert records["Hub.Workers"]["type"] == "{Worker}"
    assert records["Worker.Label"]["type"] == "string"
    assert records["defaults"]["type"] == "Map<any, any>"
    scan = records["Hub.Scan"]["params"]
    assert [(p["name"], p["optional"], p.get("vararg", False)) for p in scan] == [
        ("mode", False, False), ("folders", True, True)]
    conf = records["Hub.Configure"]["params"]
    assert [(p["name"], p["type"]) for p in conf] == [("settings", "Map<string, boolean>")]
    assert [p["name"] for p in records["refresh"]["params"]] == ["patch|updater"]
    assert records["check"]["kind"] == "function"
    assert records["check"]["signature"] == "check(props)"
    assert records["Hub.Launch"]["returns"] == [{"type": "Promise", "description": ""}]


ICONS = """\
The `Clock` class is a global class which measures time.

!!!important "Read this first"
    `Clock` never blocks.

##Function Summary

Function Name | Description | Return
-- | -- | --
after([<span class="tag flo"></span>](types)&nbsp;seconds) | Waits. | [<span class="ret int"></span>](types)

##Function Details

###after(...)

[<span class="ret int"></span>](types)&nbsp;Runs a function after a delay.

!!!info "after(callback, seconds, times)"
    * [<span class="tag fun"></span>](types) **callback**: What to run.
    * [<span class="tag flo"></span>](types) **seconds**: How long to wait.
    * [<span class="tag int"></span>](types) **times**: How many runs.
        * {>>Optional, defaults to `1`.<<}

!!!example
    Prints after one second.
    ``` Lua
    Clock.after(function() print("tick") end, 1)
    ```

###cancel(...)

Stops a scheduled function.

!!!info "cancel(id)"
    * [<span class="tag int"></span>](types) **id**: The id `after` returned.

!!!example
    ``` Lua
    local id = Clock.after(function() end, 5)
    Clock.cancel(id)
    ```
"""


def test_headings_without_a_space_admonitions_and_icon_types(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("clock.md", ICONS))
    assert set(records) == {"Clock.after", "Clock.cancel"}
    after = records["Clock.after"]
    assert after["signature"] == "Clock.after(callback, seconds, times)"
    assert [(p["name"], p["type"], p["optional"]) for p in after["params"]] == [
        ("callback", "function", False), ("seconds", "float", False), ("times", "integer", True)]
    assert after["description"].startswith("Runs a function after a delay.")
    assert "span" not in after["description"] and "](types)" not in after["description"]
    # the example inside the admonition is a code block, not text
    assert after["examples"] == ['Clock.after(function() print("tick") end, 1)\n']
    assert records["Clock.cancel"]["params"][0]["name"] == "id"


PAGE_COPY = """\
Copies a folder and its files.

```lua
ok, err = fs.copytree("source", "target")
```

### Parameters ###

`source` is the folder to copy.

`target` is where the copy goes. It is
created when missing.

### Return Value ###

**true** on success, else **nil** and a message.

### Availability ###

Version 2.0 or later.
"""

PAGE_MODE = """\
Selects the build mode.

```lua
mode ("name")
```

### Parameters ###

`name` is one of:

* `fast`: no checks
* `safe`

### Examples ###

```lua
mode "fast"
```
"""

PAGE_INDEX = """\
### Files

* [fs.copytree](fs.copytree.md)
* [fs.remove](fs.remove.md)
"""

PAGE_GUIDE = """\
Build scripts are plain Lua.

```lua
print("hello")
```
"""


def test_pages_without_a_title_are_named_by_their_file(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("docs/fs.copytree.md", PAGE_COPY),
                         ("docs/mode.md", PAGE_MODE), ("docs/Index.md", PAGE_INDEX),
                         ("docs/guide.md", PAGE_GUIDE))
    assert set(records) == {"fs.copytree", "mode"}  # not the index's links, not the guide
    copy = records["fs.copytree"]
    assert copy["signature"] == "fs.copytree(source, target)"
    assert copy["source"]["line"] == 1
    assert [(p["name"], p["description"]) for p in copy["params"]] == [
        ("source", "source is the folder to copy."),
        ("target", "target is where the copy goes. It is created when missing.")]
    assert copy["returns"][0]["description"].startswith("**true** on success")
    assert copy["description"].startswith("Copies a folder and its files.")
    mode = records["mode"]
    assert mode["signature"] == "mode(name)"
    assert [p["name"] for p in mode["params"]] == ["name"]  # the values are not parameters
    assert "fast" in mode["params"][0]["description"]
    assert mode["examples"][-1] == 'mode "fast"\n'


SECTIONS = """\
# Toolkit

## Text helpers

The text helpers live in:

```lua
local text = require("toolkit.text")
```

### `split(s, sep)`

Splits a string.

### `trim(s)`

Trims spaces.

## Crypto helpers

```lua
crypto = require "toolkit.crypto"
```

### `sha1(s)`

Hashes a string.

## Misc

```lua
local text = require("toolkit.text")
print(text.trim("  x "))
```

### `noop()`

Does nothing.
"""


def test_a_section_that_loads_its_module_names_its_functions(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("toolkit.md", SECTIONS))
    # a section opened by a block that only loads a module: its bare functions are that local's;
    # a block with other code is an example, not the section's module
    assert set(records) == {"text.split", "text.trim", "crypto.sha1", "noop"}
    assert records["text.split"]["signature"] == "text.split(s, sep)"


def test_returns_as_a_table_and_returns_none(run, jsonl, tmp_path, convert_markdown):
    probe = ("# probe.read\n\n`probe.read(channel [, raw])`\n\nReads a channel.\n\n## Parameters\n\n"
             "| Name | Req | Type | Description |\n| --- | --- | --- | --- |\n"
             "| `channel` | yes | `integer` | which one |\n| `raw` | no | `boolean` | unscaled |\n\n"
             "## Returns\n\n| Name | Type | Description |\n| --- | --- | --- |\n"
             "| `value` | `number` | the reading |\n| `-` | `string` | its unit |\n")
    beep = "# probe.beep\n\n`probe.beep()`\n\nBeeps.\n\n## Returns\n\nNone.\n"
    _, records = convert_markdown(("probe.read.md", probe), ("probe.beep.md", beep))
    read = records["probe.read"]
    assert [(p["name"], p["type"], p["optional"]) for p in read["params"]] == [
        ("channel", "integer", False), ("raw", "boolean", True)]
    assert read["returns"] == [{"type": "number", "description": "the reading", "name": "value"},
                               {"type": "string", "description": "its unit"}]
    assert records["probe.beep"]["returns"] == []
    assert records["probe.beep"]["returns_nothing"] is True


HTML_PAGE = """\
<nav class="crumbs">
\t<span>State</span>
</nav>

<h1 class="api-header" markdown>
\t<span class="api-icon" markdown>:octicons-workflow-24:</span>
\t<span class="api-name">memo</span>
\t<span class="api-type">
\t\t-> Memo&lt;T&gt;
\t</span>
</h1>

```Lua
function Kit.memo<T>(
\tscope: Scope<unknown>,
\tcompute: () -> T
): Memo<T>
```

Caches a computation.

## Parameters

<h3 markdown>
\tscope
\t<span class="api-type">
\t\t: <a href="../scope">Scope</a>&lt;unknown&gt;
\t</span>
</h3>

Where the memo is cleaned up.

<h3 markdown>
\tcompute
\t<span class="api-type">
\t\t: () -> T
\t</span>
</h3>

Computes the value.

<h2 markdown>
\tReturns
\t<span class="api-type">
\t\t-> Memo&lt;T&gt;
\t</span>
</h2>

The memo.
"""


def test_html_headings_and_a_signature_over_several_lines(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("memo.md", HTML_PAGE))
    assert set(records) == {"Kit.memo"}
    memo = records["Kit.memo"]
    assert memo["signature"] == "Kit.memo(scope: Scope<unknown>, compute: () -> T)"
    assert [(p["name"], p["type"]) for p in memo["params"]] == [
        ("scope", "Scope<unknown>"), ("compute", "() -> T")]
    assert memo["params"][0]["description"] == "Where the memo is cleaned up."
    assert memo["returns"][0]["type"] == "Memo<T>"
    assert memo["description"].startswith("Caches a computation.")


def test_fields_and_label_words_named_by_their_anchor(run, jsonl, tmp_path, convert_markdown):
    doc = ("# Module kit.fs\n\nFile helpers.\n\n## Static Fields {#kit.fs-fields}\n\n"
           "### sep {#kit.fs.sep}\n\nThe directory separator.\n\n## Functions {#kit.fs-functions}\n\n"
           "### default {#kit.fs.default}\n\n`default ([name])`\n\nThe default root.\n\n"
           "### usage {#kit-usage}\n\nProse about usage.\n")
    _, records = convert_markdown(("fs.md", doc))
    assert set(records) == {"kit.fs.sep", "kit.fs.default"}
    assert records["kit.fs.sep"]["kind"] == "field"
    assert records["kit.fs.sep"]["description"] == "The directory separator."
    assert records["kit.fs.default"]["signature"] == "kit.fs.default([name])"


def test_a_function_named_like_a_label_word(run, jsonl, tmp_path, convert_markdown):
    doc = ("Methods\n=======\n\ntype\n----\n**syntax:** *name = worker_module.type()*\n\n"
           "**context:** *any*\n\nThe worker's kind.\n\nstop\n----\n**syntax:** *ok = worker_module.stop()*\n\n"
           "Stops it.\n\nUsage\n-----\n\nRead the guide.\n")
    _, records = convert_markdown(("worker.md", doc))
    assert set(records) == {"worker_module.type", "worker_module.stop"}
    assert records["worker_module.type"]["returns"][0]["name"] == "name"


TABLES = """\
### `zz` Module

All functions raise errors.

| Function | Returns | Description |
| --- | --- | --- |
| `zz.open(path)` | handle | opens an archive |
| `zz.open(path, mode)` | handle | opens it in a mode |
| `zz.list(handle)` | iterator | lists its entries |
| `zz.close(handle \\| nil)` | none | closes it |
| `tostring(h)` | string | its name |

### `zz.io` Module

| Function | Returns | Description |
| --- | --- | --- |
| `io.read()` | string | reads stdin |
| `io.write(...)` | true | writes stdout |
| `io.dump(name, ...)` | string | writes a file |

| Option | Description |
| --- | --- |
| `fast` | skip checks |
"""


def test_tables_of_signatures(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("zz.md", TABLES))
    assert set(records) == {"zz.open", "zz.list", "zz.close", "zz.io.read", "zz.io.write",
                            "zz.io.dump"}
    assert set(records["zz.open"]["signatures"]) == {"zz.open(path)", "zz.open(path, mode)"}
    assert records["zz.list"]["returns"] == [{"type": "iterator", "description": ""}]
    assert records["zz.list"]["description"] == "lists its entries"
    assert [p["name"] for p in records["zz.close"]["params"]] == ["handle|nil"]
    assert records["zz.io.read"]["signature"] == "zz.io.read()"


def test_name_in_a_code_span_and_arguments_after_it(run, jsonl, tmp_path, convert_markdown):
    doc = ("## The `ed` Module\n---\n\n### Fields defined by `ed`\n\n<a id=\"ed.READONLY\"></a>\n"
           "#### `ed.READONLY` (bool)\n\nWhether the buffer is read-only.\n\n"
           "### Functions defined by `ed`\n\n<a id=\"ed.insert\"></a>\n#### `ed.insert`(*buffer, text*)\n\n"
           "Inserts *text*.\n\nParameters:\n\n* *`buffer`*: A buffer.\n* *`text`*: The text.\n\n"
           "<a id=\"ed.undo\"></a>\n#### `ed.undo`()\n\nUndoes.\n")
    _, records = convert_markdown(("ed.md", doc))
    assert set(records) >= {"ed.READONLY", "ed.insert", "ed.undo"}
    assert records["ed.READONLY"]["kind"] == "field"
    assert records["ed.READONLY"]["type"] == "bool"
    assert records["ed.insert"]["signature"] == "ed.insert(buffer, text)"
    assert [p["description"] for p in records["ed.insert"]["params"]] == ["A buffer.", "The text."]


def test_vimdoc_braced_parameters_and_returns_in_parentheses(run, jsonl, tmp_path, convert_markdown):
    doc = ("## Lua module: `ed.pat`\n\n##### `ed.pat.find({subject}, {pattern}, {init})`\n\n"
           "Finds a pattern.\n\n**Parameters:**\n\n* `subject` (`string`)\n* `pattern` (`string`)\n"
           "* `init` (`integer?`)\n\n**Returns:** (`integer?`, `integer?`): start and end, or `nil`.\n\n"
           "##### `ed.pat.any({list})`\n\nTrue when any matches.\n\n**Returns:** (`boolean`)\n\n"
           "##### `ed.pat.count()`\n\nCounts.\n")
    _, records = convert_markdown(("pat.md", doc))
    find = records["ed.pat.find"]
    assert find["signature"] == "ed.pat.find(subject, pattern, init)"
    assert [(p["name"], p["type"], p["optional"]) for p in find["params"]] == [
        ("subject", "string", False), ("pattern", "string", False), ("init", "integer", True)]
    assert find["returns"] == [{"type": "integer?", "description": "start and end, or `nil`."},
                               {"type": "integer?", "description": ""}]
    assert records["ed.pat.any"]["returns"] == [{"type": "boolean", "description": ""}]


VIMDOC = """\
*kit.txt*    Kit for Nvim

==============================================================================
Lua module: kit                                                      *kit-lua*

kit.open({path}, {opts})                                           *kit.open()*
    Opens a file in a split.

    Example: >lua
        kit.open('a.txt', { split = true })
<

    Parameters: ~
      • {path}  (`string`) File to open.
      • {opts}  (`table?`) Options:
                • split: (boolean) open in a split

    Return: ~
        (`integer`) buffer number

                                                               *kit.close_all()*
kit.close_all({force}, {...})
    Closes every kit window.

    Parameters: ~
      • {force}  (`boolean?`) close modified buffers too
      • {...}    (`any`) ignored

kit.config                                                        *kit.config*
    The current configuration table.

 vim:tw=78:ts=8:ft=help:norl:
"""


def test_vim_help_files(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("doc/kit.txt", VIMDOC))
    assert set(records) == {"kit.open", "kit.close_all", "kit.config"}
    op = records["kit.open"]
    assert op["signature"] == "kit.open(path, opts)"
    assert [(p["name"], p["type"], p["optional"]) for p in op["params"]] == [
        ("path", "string", False), ("opts", "table", True)]
    assert "split" in op["params"][1]["description"]
    assert op["returns"] == [{"type": "integer", "description": "buffer number"}]
    assert op["examples"] == ["kit.open('a.txt', { split = true })\n"]
    assert op["description"] == "Opens a file in a split."
    assert op["source"]["line"] == 6
    assert records["kit.close_all"]["params"][1]["name"] == "..."
    assert records["kit.config"]["kind"] == "field"
    # api-docs reads the same file in a mixed folder; a plain .txt is named, not read
    (tmp_path / "doc" / "notes.txt").write_text("Just some notes.\n", encoding="utf-8")
    out = tmp_path / "mixed.jsonl"
    result = run("data", "convert", "api-docs", tmp_path / "doc", "-o", out, ok=True)
    assert {r["name"] for r in jsonl[1](out)} == set(records)
    assert "notes.txt" in result.output


def test_bullet_references_with_nested_descriptions(run, jsonl, tmp_path, convert_markdown):
    doc = ("World access\n------------\n\n* `world.put(pos, block)`\n    * Puts a block at `pos`.\n"
           "    * e.g. `world.put({x=0, y=1}, {name=\"stone\"})`\n"
           "* `world.put_many({pos1, pos2, ...}, block)`\n    * Same, for many positions:\n"
           "      `world.put_many({{x=0, y=1}, {x=1, y=1}}, b)` is one call.\n"
           "* `world.get(pos)`: the block at `pos`\n* `world.clear(pos)`\n\nMore prose.\n")
    _, records = convert_markdown(("world.md", doc))
    assert set(records) == {"world.put", "world.put_many", "world.get", "world.clear"}
    put = records["world.put"]
    assert put["description"].startswith("Puts a block at `pos`.")
    assert "{x=0, y=1}" in put["description"]
    many = records["world.put_many"]
    assert [(p["name"], p["type"]) for p in many["params"]] == [
        ("{pos1, pos2, ...}", "table"), ("block", None)]
    assert "{{x=0, y=1}, {x=1, y=1}}" in many["description"]  # not taken for a template tag
    assert records["world.get"]["description"] == "the block at `pos`"


ADOC = """\
= Zip Manual =
A. Author

API (Functions)
---------------

[[pack]]
pack
~~~~

[source,lua]
------------
data = zip.pack(value[, level])
-- "level" must be 1-9. Default: 6.
------------

+zip.pack+ compresses a value.

Available levels:

+1+:: fastest
+9+:: smallest

.Example: Packing
[source,lua]
local data = zip.pack("hello")
print(#data)

unpack
~~~~~~

[source,lua]
------------
value = zip.unpack(data)
------------

Reverses <<pack,+zip.pack+>>.

API (Variables)
---------------

_VERSION
~~~~~~~~

The module version (+"1.0"+).

Overview
~~~~~~~~

Prose, not an entry.

// vi:ft=asciidoc tw=72:
"""


def test_asciidoc_manuals(run, jsonl, tmp_path, convert_markdown):
    _, records = convert_markdown(("manual.adoc", ADOC))
    assert set(records) == {"zip.pack", "zip.unpack", "_VERSION"}
    pack = records["zip.pack"]
    assert pack["signature"] == "zip.pack(value[, level])"
    assert [(p["name"], p["optional"]) for p in pack["params"]] == [("value", False),
                                                                   ("level", True)]
    assert pack["returns"][0]["name"] == "data"
    assert pack["description"].startswith("`zip.pack` compresses a value.")
    assert pack["examples"] == ['local data = zip.pack("hello")\nprint(#data)\n']
    assert records["zip.unpack"]["description"] == "Reverses `zip.pack`."
    assert records["_VERSION"]["kind"] == "field"
    # the same manual as .txt (the older name lua-cjson used) reads the same
    _, again = convert_markdown(("old/manual.txt", ADOC))
    assert set(again) == set(records)


def test_parameters_listed_without_a_label(run, jsonl, tmp_path, convert_markdown):
    doc = ("# Utils\n\n## box\n\n### `quote(str, opts)` {#box.quote}\n\nQuotes a string:\n\n"
           "- `str` - Required, the string to quote\n- `opts`: Optional, a table:\n"
           "  - `shell`: which shell\n\nReturns the quoted string.\n\n"
           "### `time()` {#box.time}\n\nThe time.\n\n- `1`: one\n- `2`: two\n")
    _, records = convert_markdown(("utils.md", doc))
    assert set(records) == {"box.quote", "box.time"}
    params = records["box.quote"]["params"]
    assert [(p["name"], p["optional"], p["description"]) for p in params] == [
        ("str", False, "the string to quote"), ("opts", True, "a table:; shell: which shell")]
    assert records["box.time"]["params"] == []


def test_prose_pages_stay_prose(run, jsonl, tmp_path, convert_markdown):
    # a design note: a table of Python hooks, a heading naming a command with a colon
    doc = ("# Design\n\n## Hooks\n\n| hook | what it does |\n| --- | --- |\n"
           "| `register_commands(cli)` | adds commands |\n| `register_converters(register)` | converters |\n"
           "| `register_metrics(register)` | metrics |\n\n## `dialogue`: dialogues → conversations\n\n"
           "Reads dialogues.\n")
    result, records = convert_markdown(("design.md", doc), ok=None)
    assert records == {}
    assert result.exit_code == 2 and "no API entries" in result.output


def test_section_titles_with_a_gloss_and_a_page_that_loads_its_class(run, jsonl, tmp_path, convert_markdown):
    titles = ("# Modding API\n\n## Log (Messages)\n\n### Log:Info(message)\nLogs.\n\n"
              "## Clock (Time Functions)\n\n### Clock.Delta\nSeconds since the last frame.\n\n"
              "## Gui (User Interface)\n\n#### Gui:Label(x, y, text)\nA label.\n\n"
              "#### Gui:Width(), Gui:Height()\nScreen size.\n")
    _, records = convert_markdown(("mod.md", titles))
    assert set(records) == {"Log:Info", "Clock.Delta", "Gui:Label", "Gui:Width", "Gui:Height"}
    page = ("The Event module.\n\n```lua\nlocal Event = require(Lib.Util.Event)\n```\n\n"
            "## Constructors\n\n### `new()`\nMakes one.\n```lua\nlocal ev = Event.new()\n```\n\n"
            "## Methods\n\n### `Fire(...)`\nFires it.\n```lua\nlocal event = Event.new()\nevent:Fire(1, 2)\n```\n\n"
            "### `Destroy()`\n```lua\nevent:Destroy()\n```\n")
    _, records = convert_markdown(("event.md", page))
    assert set(records) == {"Event.new", "Event:Fire", "Event:Destroy"}
    assert records["Event:Fire"]["kind"] == "method"
