"""``lua-api`` (LuaLS/EmmyLua annotations, ``---@meta`` files, LDoc comments) and ``api-docs``
(a mixed folder), on small Lua files written for these tests in each style."""

from __future__ import annotations

import re
from pathlib import Path

META = """\
---@meta

---
---Drawing helpers for shapes.
---
---[Open in Browser](https://example.org/shapes)
---
---@class gfx.shapes
gfx.shapes = {}

---Draws a circle.
---
---Draws a filled or outlined circle
---at the given position.
---@overload fun(mode: gfx.DrawMode, x: number, y: number, radius: number, segments?: integer):boolean
---@param mode gfx.DrawMode # How to draw the circle.
---@param x number # The center along the x-axis.
---@param y number # The center along the y-axis.
---@param radius? number # The radius of the circle.
---@return boolean ok # Whether anything was drawn.
---@return string|nil err
function gfx.shapes.circle(mode, x, y, radius) end

---@deprecated Use gfx.shapes.circle instead.
---@param x number
function gfx.shapes.oldCircle(x) end

---A polygon with any number of points.
---@class gfx.Polygon: gfx.Object
---@field points number[] # The flat list of coordinates.
---@field closed? boolean Whether the last point joins the first.
local Polygon = {}

---Adds a point.
---@generic T
---@param x number
---@param y number
---@param tag? T
---@return gfx.Polygon self
---@nodiscard
function Polygon:addPoint(x, y, tag) end

---@async
---@param cb fun(err: string?, n: integer): boolean
function Polygon:each(cb) end

---@alias gfx.DrawMode
---| '"fill"' # Fill the shape.
---| '"line"' # Outline it.

---@class gfx.Options
---@field depth integer
---@field label string
"""

NVIM_STYLE = """\
---@meta
-- luacheck: no unused args

error('Cannot require a meta file')

--- Compares strings.
---
--- Example:
---
--- ```lua
--- ed.cmp('a', 'b')
--- ```
--- @param a string
--- @param b string
--- @return 0|1|-1
--- if strings are equal, greater or lesser.
function ed.cmp(a, b) end

--- Waits.
--- @param time integer Number of milliseconds to wait
--- @param callback? fun(): boolean Optional callback.
--- @param ...? any
--- @return boolean, nil|-1|-2
---     - If {callback} returns `true`: `true, nil`
function ed.wait(time, callback, ...) end

---@class ed.shared.DICT
local DICT = {}

---Increments a value.
---@param key string
---@param init? number
---@return integer? newval
---@return string? err
---@return boolean? forcible
function DICT:incr(key, value, init) end
"""

LDOC = """\
--- Extra string functions.
--
-- Longer text about the module.
-- @module util.strx
local helpers = require 'util.helpers'

local function check(s)
    assert(type(s) == 'string')
end

local strx = {}

------------------
-- Predicates
-- @section predicates

--- does s only contain digits?
-- @string s a string
-- @return true or false
function strx.isdigit(s)
    check(s)
    return s:find('^%d+$') == 1
end

--- split a string.
-- @string s the string
-- @string[opt] sep a delimiter
-- @int[opt=0] n maximum number of results
-- @treturn List the parts
-- @usage strx.split('a b') == {'a', 'b'}
-- @usage strx.split('a,b', ',')
function strx.split(s, sep, n)
    local t = {}
    local inner = function(x) return x end
    if sep then
        t.x = function() end
    end
    return t
end

--- pad a string.
-- @tparam string s the string
-- @tparam[opt] number w width
-- @return the padded string
strx.pad = function(s, w)
  return s
end

--- internal.
-- @local
function strx.internal() end

strx.digits = strx.isdigit

--- joins things.
-- @function join
-- @param sep separator
-- @param ... the strings

local function title(s)
  return s
end
--- title case.
-- @string s the string
strx.title = title

return strx
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def convert(run, jsonl, tmp_path, *inputs, converter="lua-api", args=(), ok=True):
    out = tmp_path / "api.jsonl"
    result = run("data", "convert", converter, *inputs, "-o", out, *args, ok=ok)
    return result, {r["name"]: r for r in (jsonl[1](out) if out.exists() else [])}


def declared_functions(code: str) -> set[str]:
    """Functions a definition file declares, counted independently of the converter: each
    top-level ``function a.b(`` / ``function C:m(`` line."""
    return set(re.findall(r"^function\s+([\w.:]+)\s*\(", code, re.MULTILINE))


def test_luals_definition_file(run, jsonl, tmp_path):
    lib = write(tmp_path / "library", {"gfx/shapes.lua": META})
    _, records = convert(run, jsonl, tmp_path, lib)
    declared = {n.replace("Polygon:", "gfx.Polygon:") for n in declared_functions(META)}
    found = {n for n, r in records.items() if r["kind"] in ("function", "method")}
    assert found == declared  # every declared function, nothing invented
    circle = records["gfx.shapes.circle"]
    assert circle["description"] == "Draws a circle.\n\nDraws a filled or outlined circle at the given position."
    assert [(p["name"], p["type"], p["optional"]) for p in circle["params"]] == [
        ("mode", "gfx.DrawMode", False), ("x", "number", False), ("y", "number", False),
        ("radius", "number", True)]
    assert circle["params"][0]["values"] == ['"fill"', '"line"']  # from the @alias
    assert circle["params"][0]["description"] == "How to draw the circle."
    assert circle["returns"] == [
        {"type": "boolean", "name": "ok", "description": "Whether anything was drawn."},
        {"type": "string|nil", "name": "err", "description": "", "optional": True}]
    assert circle["signatures"] == ["gfx.shapes.circle(mode, x, y, radius?)",
                                    "gfx.shapes.circle(mode, x, y, radius, segments?)"]
    old = records["gfx.shapes.oldCircle"]
    assert old["deprecated"] is True and "circle" in old["deprecation"]
    add = records["gfx.Polygon:addPoint"]
    assert add["kind"] == "method" and add["generics"] == ["T"] and add["nodiscard"] is True
    assert records["gfx.Polygon:each"]["params"][0]["type"] == "fun(err: string?, n: integer): boolean"
    assert records["gfx.Polygon:each"]["async"] is True
    poly = records["gfx.Polygon"]
    assert poly["kind"] == "module" and poly["extends"] == ["gfx.Object"]
    assert [f["name"] for f in poly["fields"]] == ["points", "closed"]
    assert records["gfx.Polygon.closed"]["kind"] == "field"  # a class with a runtime table
    assert "gfx.Options.depth" not in records and records["gfx.Options"]["fields"][0]["name"] == "depth"
    assert not any(n.startswith("gfx.DrawMode") for n in records)


def test_neovim_style_annotations(run, jsonl, tmp_path):
    path = write(tmp_path, {"ed.lua": NVIM_STYLE}) / "ed.lua"
    _, records = convert(run, jsonl, tmp_path, path)
    assert {n for n, r in records.items() if r["kind"] in ("function", "method")} == {
        "ed.cmp", "ed.wait", "ed.shared.DICT:incr"}
    cmp = records["ed.cmp"]
    assert cmp["examples"] == ["ed.cmp('a', 'b')\n"]
    assert cmp["returns"] == [{"type": "0|1|-1", "description": "if strings are equal, greater or lesser."}]
    wait = records["ed.wait"]
    assert [(p["name"], p["optional"]) for p in wait["params"]] == [
        ("time", False), ("callback", True), ("...", True)]
    assert [r["type"] for r in wait["returns"]] == ["boolean", "nil|-1|-2"]
    incr = records["ed.shared.DICT:incr"]
    assert [p["name"] for p in incr["params"]] == ["key", "value", "init"]  # undocumented kept
    assert [(r["name"], r.get("optional")) for r in incr["returns"]] == [
        ("newval", True), ("err", True), ("forcible", True)]


def test_ldoc_module(run, jsonl, tmp_path):
    src = write(tmp_path / "src", {"lua/util/strx.lua": LDOC})
    _, records = convert(run, jsonl, tmp_path, src)
    public = {"isdigit", "split", "pad", "digits", "join", "title"}
    assert {n for n, r in records.items() if r["kind"] == "function"} == \
        {f"strx.{n}" for n in public} | {f"util.strx.{n}" for n in public}
    assert not any("internal" in n or "check" in n or n.endswith(".inner") for n in records)
    assert records["util.strx"]["kind"] == "module"
    assert records["util.strx"]["description"].startswith("Extra string functions.")
    split = records["strx.split"]
    assert [(p["name"], p["type"], p["optional"]) for p in split["params"]] == [
        ("s", "string", False), ("sep", "string", True), ("n", "integer", True)]
    assert split["params"][2]["default"] == "0"
    assert split["returns"] == [{"type": "List", "description": "the parts"}]
    assert split["examples"] == ["strx.split('a b') == {'a', 'b'}\n", "strx.split('a,b', ',')\n"]
    assert records["util.strx.split"]["alias_of"] == "strx.split"
    pad = records["strx.pad"]
    assert [(p["type"], p["optional"]) for p in pad["params"]] == [("string", False), ("number", True)]
    assert records["strx.digits"]["alias_of"] == "strx.isdigit"
    assert records["strx.digits"]["signature"] == "strx.digits(s)"
    assert records["strx.title"]["description"] == "title case."
    assert [p["name"] for p in records["strx.join"]["params"]] == ["sep", "..."]


def test_module_names_attach(run, jsonl, tmp_path):
    src = write(tmp_path / "src", {"util/strx.lua": LDOC})
    _, records = convert(run, jsonl, tmp_path, src, args=("--module-names", "attach"))
    assert "util.strx.split" not in records
    assert records["strx.split"]["aliases"] == [{"name": "util.strx.split",
                                                 "signature": "util.strx.split(s, sep?, n?)"}]


def test_module_table_named_m_takes_the_file_name(run, jsonl, tmp_path):
    code = ("local M = {}\n\n--- Makes a tween.\n-- @param d duration\nfunction M.new(d) end\n\n"
            "function M._private() end\n\nlocal function helper() end\n\nreturn M\n")
    path = write(tmp_path, {"tween.lua": code}) / "tween.lua"
    _, records = convert(run, jsonl, tmp_path, path)
    assert set(records) == {"tween.new"}
    assert records["tween.new"]["params"][0]["description"] == "duration"


def test_mixed_folder_in_one_command(run, jsonl, tmp_path):
    write(tmp_path / "proj", {"docs/guide.md": "# gfx\n\n## gfx.shapes.circle(mode, x, y)\n\nShort.\n",
                              "docs/more.md": "## gfx.extra(x)\n\nExtra.\n",
                              "library/gfx/shapes.lua": META})
    result, records = convert(run, jsonl, tmp_path, tmp_path / "proj", converter="api-docs")
    assert "gfx.extra" in records and "gfx.Polygon:addPoint" in records
    # documented in both: the richer record (the annotations) wins, both signatures kept
    circle = records["gfx.shapes.circle"]
    assert circle["source"]["file"].endswith("shapes.lua")
    assert "gfx.shapes.circle(mode, x, y)" in circle["signatures"]
    assert "duplicates 1" in result.output


def test_inputs_lua_api_cannot_use(run, jsonl, tmp_path):
    write(tmp_path, {"doc.md": "## m.f()\n", "empty.lua": "", "script.lua":
                     "local x = 1\nlocal function f() return x end\nprint(f())\n"})
    out = tmp_path / "o.jsonl"
    result = run("data", "convert", "lua-api", tmp_path / "doc.md", tmp_path / "empty.lua",
                 tmp_path / "script.lua", "-o", out)
    assert result.exit_code == 2 and not out.exists()
    assert "doc.md: not a .lua file; markdown is read by `markdown-api`" in result.output
    assert "empty.lua: empty file" in result.output
    assert "script.lua: no public API" in result.output
    missing = run("data", "convert", "lua-api", tmp_path / "nope.lua", "-o", out)
    assert missing.exit_code == 2 and "nope.lua: file not found" in missing.output


def test_broken_code_still_gives_its_functions(run, jsonl, tmp_path):
    code = "---@meta\n\n---Ok.\nfunction lib.ok() end\n\nfunction lib.broken(a, b\n\n" \
           "---Later.\n---@param x string\nfunction lib.later(x) end\n"
    path = write(tmp_path, {"lib.lua": code}) / "lib.lua"
    _, records = convert(run, jsonl, tmp_path, path)
    assert {"lib.ok", "lib.later"} <= set(records)
    assert records["lib.later"]["params"][0]["type"] == "string"


def test_emmylua_vararg(run, jsonl, tmp_path):
    code = "---@meta\n\n---Logs.\n---@param fmt string\n---@vararg any\nfunction log.info(fmt, ...) end\n"
    path = write(tmp_path, {"log.lua": code}) / "log.lua"
    _, records = convert(run, jsonl, tmp_path, path)
    assert records["log.info"]["params"][1] == {"name": "...", "type": "any", "description": "",
                                                "optional": True}


def test_callbacks_typed_as_functions(run, jsonl, tmp_path):
    code = ("---@meta\n\n---\n---Called every frame.\n---\n"
            "---@type fun(dt: number, extra?: string):boolean\ngame.update = nil\n\n"
            "---The version.\n---@type string\ngame.version = nil\n")
    path = write(tmp_path, {"cb.lua": code}) / "cb.lua"
    _, records = convert(run, jsonl, tmp_path, path)
    update = records["game.update"]
    assert update["kind"] == "function" and update["signature"] == "game.update(dt, extra?)"
    assert update["returns"] == [{"type": "boolean", "description": ""}]
    assert records["game.version"]["kind"] == "field" and records["game.version"]["type"] == "string"


def test_assignment_to_a_declared_local_is_private(run, jsonl, tmp_path):
    code = ("--- Strings.\n-- @module pl.strx\nlocal lstrip\nlocal strx = {}\n\n--- trim left.\n"
            "-- @string s the string\nfunction strx.lstrip(s)\n  return s\nend\n"
            "lstrip = strx.lstrip\nstrx.ltrim = strx.lstrip\n\nreturn strx\n")
    path = write(tmp_path, {"strx.lua": code}) / "strx.lua"
    _, records = convert(run, jsonl, tmp_path, path)
    assert set(records) == {"pl.strx", "strx.lstrip", "pl.strx.lstrip", "strx.ltrim",
                            "pl.strx.ltrim"}


def test_module_returned_as_a_table_constructor(run, jsonl, tmp_path):
    code = ("--- Makes a thing.\n-- @param n size\nlocal function new(n)\n  return {n = n}\nend\n\n"
            "local function release(t) end\nlocal function hidden() end\n\n"
            "return {\n  new = new,\n  free = release,\n  VERSION = \"1.0\",\n}\n")
    path = write(tmp_path, {"thing.lua": code}) / "thing.lua"
    _, records = convert(run, jsonl, tmp_path, path)
    assert set(records) == {"thing.new", "thing.free"}
    assert records["thing.new"]["params"][0]["description"] == "size"
    assert records["thing.free"]["signature"] == "thing.free(t)"


LDOC_HTML = """\
<!DOCTYPE html>
<html><head><meta name="generator" content="LDoc"><title>util.strx</title></head><body>
<h1>Module <code>util.strx</code></h1>
<p>Extra string functions.</p>
<dl class="function">
    <dt>
    <a name = "split"></a>
    <strong>split (s[, sep])</strong>
    </dt>
    <dd>
    split a string.
    <h3>Parameters:</h3>
    <ul>
        <li><span class="parameter">s</span>
            <span class="types"><a class="type" href="x">string</a></span>
         the string
        </li>
        <li><span class="parameter">sep</span>
            <span class="types"><span class="type">string</span></span>
         a delimiter (defaults to whitespace)
         (<em>optional</em>)
        </li>
    </ul>
    <h3>Returns:</h3>
    <ol>
        List of parts
    </ol>
    <h3>Usage:</h3>
    <ul>
        <pre class="example">strx.split('a b')</pre>
    </ul>
</dd>
    <dt>
    <a name = "Buffer:append"></a>
    <strong>Buffer:append (data)</strong>
    </dt>
    <dd>
    appends data.
    <h3>Parameters:</h3>
    <ul>
        <li><span class="parameter">data</span>
            <span class="types"><span class="type">string</span></span>
         bytes
        </li>
    </ul>
</dd>
</dl>
</body></html>
"""


def test_ldoc_html_pages_through_api_docs(run, jsonl, tmp_path):
    path = write(tmp_path / "docs", {"libraries/util.strx.html": LDOC_HTML,
                                     "index.html": "<html><body><h1>Index</h1></body></html>"})
    result, records = convert(run, jsonl, tmp_path, path, converter="api-docs")
    assert set(records) == {"util.strx.split", "Buffer:append"}
    split = records["util.strx.split"]
    assert split["signature"] == "util.strx.split(s[, sep])"
    assert split["params"] == [
        {"name": "s", "type": "string", "description": "the string", "optional": False},
        {"name": "sep", "type": "string", "description": "a delimiter (defaults to whitespace)",
         "optional": True}]
    assert split["returns"] == [{"type": None, "description": "List of parts"}]
    assert split["examples"] == ["strx.split('a b')\n"] and split["description"] == "split a string."
    assert records["Buffer:append"]["kind"] == "method"
    assert "index.html: an HTML page that is not LDoc's output" in result.output
    # markdown-api names the page and the converter that reads it
    md = run("data", "convert", "markdown-api", path / "libraries" / "util.strx.html", "-o",
             tmp_path / "md.jsonl")
    assert md.exit_code == 2 and "LDoc's HTML output" in md.output and "api-docs" in md.output


SPHINX_RST = """\
.. _kv-module:

Module kv
=========

.. module:: kv

.. function:: get(key[, default])

    Reads a key.

    :param string key: the key
    :param default: returned when the key is missing
    :return: the value
    :rtype:  string

    **Example:**

    .. code-block:: lua

        local v = kv.get('a')

.. function:: kv.path.join(part [, part ...])

    :param string part: path parts

.. class:: store

    .. method:: close()

        Closes the store.

        :return: true on success
        :rtype:  boolean
"""


def test_sphinx_rst_through_api_docs(run, jsonl, tmp_path):
    path = write(tmp_path / "ref", {"kv.rst": SPHINX_RST}) / "kv.rst"
    _, records = convert(run, jsonl, tmp_path, path, converter="api-docs")
    assert set(records) == {"kv.get", "kv.path.join", "store:close"}
    get = records["kv.get"]
    assert get["params"] == [
        {"name": "key", "type": "string", "description": "the key", "optional": False},
        {"name": "default", "type": None, "description": "returned when the key is missing",
         "optional": True}]
    assert get["returns"] == [{"type": "string", "description": "the value"}]
    assert get["examples"] == ["local v = kv.get('a')\n"] and get["description"] == "Reads a key."
    assert [p["name"] for p in records["kv.path.join"]["params"]] == ["part", "..."]
    close = records["store:close"]
    assert close["kind"] == "method" and close["returns"][0]["type"] == "boolean"
    md = run("data", "convert", "markdown-api", path, "-o", tmp_path / "md.jsonl")
    assert md.exit_code == 2 and "Sphinx directives" in md.output and "api-docs" in md.output


def test_patches_of_lua_itself_and_underscore_names_are_not_the_library(run, jsonl, tmp_path):
    lib = ("local M = {}\n\n--- Runs.\nfunction M.run() end\n\nfunction M._helper() end\n"
           "M.private = {}\nfunction M.private._x() end\n\nos.exit = function(code) end\n\nreturn M\n")
    meta = "---@meta\n\n---Exits.\n---@param code? integer\nfunction os.exit(code) end\n"
    folder = write(tmp_path / "src", {"runner.lua": lib, "meta/os.lua": meta})
    _, records = convert(run, jsonl, tmp_path, folder)
    assert {n for n, r in records.items() if r["kind"] == "function"} == {"runner.run", "os.exit"}
    assert records["os.exit"]["source"]["file"].endswith("os.lua")  # the ---@meta declaration


def test_module_names_from_repository_layouts(run, jsonl, tmp_path):
    from luacoder_data.lua_doc import module_name_for

    root = Path("/corpus")
    assert module_name_for(root / "owner__repo/kong/plugins/acl/acls.lua", root) == "kong.plugins.acl.acls"
    assert module_name_for(root / "lua-resty-core/lib/resty/core/worker.lua", root) == "resty.core.worker"
    assert module_name_for(root / "luvit/deps/fs.lua", root) == "fs"
    assert module_name_for(root / "pl/init.lua", root) == "pl"
    assert module_name_for(root / "kong/plugins/proxy-cache/strategies/memory.lua", root) == "memory"
    assert module_name_for(root / "deps/http-codec.lua", root) == ""  # no Lua name: not invented


def test_a_class_on_a_declared_local_and_a_function_named_like_a_class(run, jsonl, tmp_path):
    meta = tmp_path / "clock_t.lua"
    meta.write_text("""\
---@meta

--- Clock handles count ticks.
---@class ev.clock_t : ev.handle_t
local clock

--- Restart the clock.
---@return 0|nil success
---@return string|nil err
function clock:again() end

--- Set its period.
---@param period_ integer
function clock:set_period(period_) end

--- Compiles a pattern and returns a pattern object.
--- @param src string
--- @return ev.pattern
function ev.pattern(src) end

--- @nodoc
--- @class ev.pattern
local pattern = {}

--- Tests a string.
--- @param s string
--- @return integer?
function pattern:test(s) end
""", encoding="utf-8")
    _, records = convert(run, jsonl, tmp_path, meta)
    # `local clock` has no value, but the class annotation over it names its methods
    assert {"ev.clock_t:again", "ev.clock_t:set_period"} <= set(records)
    assert records["ev.clock_t:again"]["returns"][1]["name"] == "err"
    # the constructor named like its class stays a function (the class does not replace it)
    assert records["ev.pattern"]["kind"] == "function"
    assert records["ev.pattern"]["params"][0]["name"] == "src"
    assert records["ev.pattern:test"]["kind"] == "method"


def test_ldoc_module_table_from_elsewhere_and_named_functions(run, jsonl, tmp_path):
    src = tmp_path / "lib" / "kit" / "Queue.lua"
    src.parent.mkdir(parents=True)
    src.write_text("""\
--- A first-in first-out queue.
-- @module kit.Queue

local tinsert = table.insert
local base = require 'kit.base'
local Queue = base.classes.Queue
Queue.__index = Queue

local function helper(q) return #q end

--- Add an item at the back.
-- @param x the item
-- @return the queue
function Queue:push(x)
  tinsert(self, x)
  return self
end

function Queue:undocumented() end

--- Remove the front item.
-- @class function
-- @name Queue:shift
-- @return the item

Queue.shift = base.shift

--- Make a queue.
-- @param t an optional table
function Queue.new(t) return setmetatable(t or {}, Queue) end

return Queue
""", encoding="utf-8")
    _, records = convert(run, jsonl, tmp_path, src)
    # the returned table is the module's even though it was assigned from another module
    assert {"kit.Queue:push", "kit.Queue:shift", "kit.Queue.new"} <= set(records)
    assert records["kit.Queue:shift"]["kind"] == "method"
    assert records["kit.Queue:shift"]["returns"][0]["description"] == "the item"
    assert "function" not in records  # `@class function` is not a class named "function"
    assert not any(name.endswith("helper") for name in records)


def test_ldoc_api_file_of_global_functions(run, jsonl, tmp_path):
    src = tmp_path / "apis" / "notes.lua"
    src.parent.mkdir(parents=True)
    src.write_text("""\
--- Keep short notes.
--
-- @module notes

local store = {}

--- Adds a note.
--
-- @tparam string text The note.
-- @treturn number Its id.
-- @usage notes.add("milk")
function add(_sText)
    store[#store + 1] = _sText
    return #store
end

--- Removes every note.
function clear()
    store = {}
end

local function helper() end
""", encoding="utf-8")
    _, records = convert(run, jsonl, tmp_path, src)
    # globals of an LDoc @module file belong to the module the file is loaded as
    assert {"notes.add", "notes.clear"} <= set(records)
    assert "add" not in records and not any(n.endswith("helper") for n in records)
    add = records["notes.add"]
    # the documented parameter name wins over the code's `_sText`
    assert [(p["name"], p["type"]) for p in add["params"]] == [("text", "string")]
    assert add["signature"] == "notes.add(text)"
    assert add["examples"] == ['notes.add("milk")\n']


def test_eclipse_ldt_doc_blocks(run, jsonl, tmp_path):
    src = tmp_path / "Sprite.lua"
    src.write_text("""\

--------------------------------
-- @module Sprite
-- @extend Node
-- @parent_module gfx

--------------------------------
--  Sets the image the sprite draws.
-- @function [parent=#Sprite] setImage
-- @param self
-- @param #gfx.Image image
-- @param #unsigned int frame

--------------------------------
--  Makes a sprite from a file.
-- @function [parent=#Sprite] create
-- @param self
-- @param #string file
-- @return Sprite#Sprite ret (return value: gfx.Sprite)

--------------------------------
-- @function [parent=#Sprite] version
-- @return #number the version

return nil
""", encoding="utf-8")
    _, records = convert(run, jsonl, tmp_path, src)
    assert {"gfx.Sprite:setImage", "gfx.Sprite:create", "gfx.Sprite.version"} <= set(records)
    assert not any("[parent" in name for name in records)
    img = records["gfx.Sprite:setImage"]
    assert [(p["name"], p["type"]) for p in img["params"]] == [
        ("image", "gfx.Image"), ("frame", "unsigned int")]
    assert img["description"] == "Sets the image the sprite draws."
    assert records["gfx.Sprite:create"]["returns"][0]["type"] == "Sprite"
    assert records["gfx.Sprite.version"]["returns"][0] == {"type": "number",
                                                           "description": "the version"}


def test_module_returned_through_setmetatable(run, jsonl, tmp_path):
    src = tmp_path / "lib" / "kit" / "clock.lua"
    src.parent.mkdir(parents=True)
    src.write_text("""\
--- Clocks.
-- @module kit.clock

local clock = { mt = {} }

--- Start it.
function clock:start() end

--- Make one.
-- @tparam number period Seconds.
function clock.new(period) return setmetatable({ period = period }, clock) end

function clock.mt:__call(...) return clock.new(...) end

return setmetatable(clock, clock.mt)
""", encoding="utf-8")
    _, records = convert(run, jsonl, tmp_path, src)
    assert {"kit.clock:start", "kit.clock.new"} <= set(records)
    assert records["kit.clock.new"]["params"][0]["type"] == "number"
