"""luacoder_core.markdown: code blocks with language and line, inline code spans, and the Lua code
that DESIGN.md's report type ``markdown`` reads."""

from __future__ import annotations

from luacoder_core.lua import ApiIndex, extract_references
from luacoder_core.markdown import CodeBlock, code_blocks, inline_code, lua_code

ANSWER = """\
# Using `tween.new`

Create a tween with `tween.new(duration, subject, target)`:

```lua
local t = tween.new(2, obj, {x = 10})
```

Or without a language:

```
t:update(dt)
```

In Python (ignored):

```python
tween.fake()
```

~~~Lua title="tilde fence"
tween.easing.linear
~~~

    -- an indented block
    tween.indented()

Done, see `tween.easing`.
"""


def test_code_blocks_languages_code_and_lines():
    assert code_blocks(ANSWER) == [
        CodeBlock("lua", "local t = tween.new(2, obj, {x = 10})\n", 5),
        CodeBlock("", "t:update(dt)\n", 11),
        CodeBlock("python", "tween.fake()\n", 17),
        CodeBlock("lua", "tween.easing.linear\n", 21),
        CodeBlock("", "-- an indented block\ntween.indented()", 25),
    ]


def test_inline_code_spans_only():
    assert inline_code(ANSWER) == [
        "tween.new", "tween.new(duration, subject, target)", "tween.easing"
    ]


def test_lua_code_is_lua_or_unlabelled_fences_plus_inline_spans():
    assert lua_code(ANSWER) == [
        "local t = tween.new(2, obj, {x = 10})\n",
        "t:update(dt)\n",
        "tween.easing.linear\n",
        "tween.new",
        "tween.new(duration, subject, target)",
        "tween.easing",
    ]


def test_inline_spans_in_lists_tables_quotes_and_headings():
    text = (
        "## The `edi` module\n\n"
        "- call `edi.open()`\n"
        "- then ``edi.editor:getText()`` (double backticks, `` a ` b ``)\n\n"
        "| function | returns |\n|---|---|\n| `edi.close()` | nothing |\n\n"
        "> quoted `edi.quote`\n\n"
        "```lua\nlocal s = `not a span`\n```\n"
    )
    assert inline_code(text) == [
        "edi", "edi.open()", "edi.editor:getText()", "a ` b", "edi.close()", "edi.quote"
    ]


def test_blocks_inside_lists_and_quotes_with_lines():
    text = "Steps:\n\n1. First\n\n   ```lua\n   a = 1\n   ```\n\n> ```\n> b = 2\n> ```\n"
    assert code_blocks(text) == [CodeBlock("lua", "a = 1\n", 5), CodeBlock("", "b = 2\n", 9)]


def test_fence_lines_with_longer_fences_and_repeated_code():
    text = "````lua\n```\nnested = 1\n```\n````\n\nx\n\n```lua\nnested = 1\n```\n"
    assert code_blocks(text) == [
        CodeBlock("lua", "```\nnested = 1\n```\n", 1),
        CodeBlock("lua", "nested = 1\n", 9),
    ]


def test_fence_lines_skip_lookalikes_and_crlf():
    text = "```x = 1``` is a span\n\n<pre>\n```\n</pre>\n\n```lua\nreal()\n```\n"
    assert code_blocks(text) == [CodeBlock("lua", "real()\n", 7)]
    assert inline_code(text) == ["x = 1"]
    crlf = "a\r\n\r\n```lua\r\nx()\r\n```\r\n\r\n\tind()\r\n"
    assert code_blocks(crlf) == [CodeBlock("lua", "x()\n", 3), CodeBlock("", "ind()", 7)]


def test_cut_off_generation_keeps_its_unclosed_block():
    text = "Here you go:\n\n```lua\nlocal t = tween.new(1, obj,"
    assert code_blocks(text) == [CodeBlock("lua", "local t = tween.new(1, obj,\n", 3)]
    assert lua_code(text) == ["local t = tween.new(1, obj,\n"]


def test_language_is_first_word_lowercased():
    text = "```LUA {.numberLines}\nx()\n```\n\n```  lua5.4\ny()\n```\n"
    assert [b.lang for b in code_blocks(text)] == ["lua", "lua5.4"]
    assert lua_code(text) == ["x()\n"]  # "lua5.4" is not "lua"


def test_empty_and_prose_only_texts():
    assert code_blocks("") == [] and inline_code("") == [] and lua_code("") == []
    assert lua_code("Just prose, tween.new is not code here.") == []
    assert code_blocks("```lua\n```") == [CodeBlock("lua", "", 1)]


def test_markdown_answer_references_end_to_end():
    index = ApiIndex(["tween.new", "tween.easing.linear", "Tween:update"])
    found = [r.name for code in lua_code(ANSWER) for r in extract_references(code, index.roots)]
    assert found == ["tween.new", "tween.easing.linear", "tween.new", "tween.new", "tween.easing"]
    assert all(index.matches(name) for name in found)


def test_real_docs_block_lines_point_at_their_fences(shared_data):
    """On the real API docs (../shared/data/docs), every block's line is its opening fence (or
    an indented block's first line), and the Lua examples reference the documented module."""
    files = sorted((shared_data / "docs").rglob("*.md"))
    assert files
    blocks = 0
    kong_refs = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for block in code_blocks(text):
            blocks += 1
            at = lines[block.line - 1]
            first = block.code.split("\n", 1)[0].strip()
            if at.lstrip(" >-*").startswith(("```", "~~~")):
                assert not first or first in lines[block.line], (path.name, block)
            else:
                assert first in at, (path.name, block)
        if path.parent.name == "kong-pdk":
            kong_refs += sum(len(extract_references(code, ["kong"])) for code in lua_code(text))
    assert blocks >= 100
    assert kong_refs >= 100
