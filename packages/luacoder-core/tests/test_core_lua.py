"""luacoder_core.lua: the tolerant lexer, API references (DESIGN.md "API match accuracy"), calls,
the documented-API index and the Lua 5.4 syntax check."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import threading
import time

import pytest
from luacoder_core.lua import (
    ApiIndex,
    Call,
    Reference,
    SyntaxResult,
    Token,
    check_syntax,
    extract_calls,
    extract_references,
    tokenize,
)


def kinds_texts(code: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokenize(code)]


def refs(code: str, roots=("tween", "edi", "string")) -> list[str]:
    return [r.name for r in extract_references(code, roots)]


def assert_tokens_cover(code: str) -> None:
    """Every token's text sits at its (line, col) in the source, tokens do not overlap, and what
    lies between them is whitespace only."""
    starts = [0] + [m.end() for m in re.finditer("\n", code)]
    pos = 0
    for tok in tokenize(code):
        offset = starts[tok.line - 1] + tok.col - 1
        assert code.startswith(tok.text, offset), tok
        assert offset >= pos, tok
        assert code[pos:offset].strip() == "", (tok, code[pos:offset])
        pos = offset + len(tok.text)
    assert code[pos:].strip() == ""


# ------------------------------------------------------------------------------------------------
# Lexer
# ------------------------------------------------------------------------------------------------


def test_lexer_kinds_lines_and_columns():
    code = 'local x = f(1)\n  if x ~= nil then return "s" end'
    assert tokenize(code) == [
        Token("keyword", "local", 1, 1),
        Token("name", "x", 1, 7),
        Token("op", "=", 1, 9),
        Token("name", "f", 1, 11),
        Token("op", "(", 1, 12),
        Token("number", "1", 1, 13),
        Token("op", ")", 1, 14),
        Token("keyword", "if", 2, 3),
        Token("name", "x", 2, 6),
        Token("op", "~=", 2, 8),
        Token("keyword", "nil", 2, 11),
        Token("keyword", "then", 2, 15),
        Token("keyword", "return", 2, 20),
        Token("string", '"s"', 2, 27),
        Token("keyword", "end", 2, 31),
    ]


@pytest.mark.parametrize(
    "number", ["0", "42", "3.", ".5", "3.25", "1e10", "2E-3", ".5e+3", "0xff", "0XA", "0x1p4", "0xA.8p-1", "0x.1P+2"]
)
def test_lexer_numbers_are_one_token(number):
    assert kinds_texts(f"x = {number} + 1") == [
        ("name", "x"), ("op", "="), ("number", number), ("op", "+"), ("number", "1")
    ]


def test_lexer_all_operators():
    ops = "+ - * / // % ^ # & ~ | << >> == ~= <= >= < > = ( ) { } [ ] :: ; : , . .. ..."
    assert kinds_texts(ops) == [("op", op) for op in ops.split()]
    # longest match first, without spaces
    assert [t.text for t in tokenize("a//b..c...d::e~=f<<g>>h")] == [
        "a", "//", "b", "..", "c", "...", "d", "::", "e", "~=", "f", "<<", "g", ">>", "h"
    ]
    assert [t.text for t in tokenize("a..5")] == ["a", "..", "5"]


def test_lexer_short_strings_with_escapes():
    code = r'''a = "q\"uote" .. 'it\'s' .. "\u{48}\65\x41\\" .. "x\z
          y" b = 1'''
    toks = tokenize(code)
    assert [(t.kind, t.text) for t in toks if t.kind == "string"] == [
        ("string", r'"q\"uote"'),
        ("string", r"'it\'s'"),
        ("string", r'"\u{48}\65\x41\\"'),
        ("string", '"x\\z\n          y"'),
    ]
    assert toks[-3:] == [Token("name", "b", 2, 14), Token("op", "=", 2, 16), Token("number", "1", 2, 18)]


def test_lexer_backslash_newline_continues_a_string():
    toks = tokenize('s = "a\\\nb" t')
    assert toks[2] == Token("string", '"a\\\nb"', 1, 5)
    assert toks[3] == Token("name", "t", 2, 4)


def test_lexer_long_strings_and_long_comments():
    code = "s = [==[ a ]] ]=] \n b ]==] --[[ c\n ]] --[=[ ]] ]=] -- line [[\nx --[ not long\ny"
    assert tokenize(code) == [
        Token("name", "s", 1, 1),
        Token("op", "=", 1, 3),
        Token("long_string", "[==[ a ]] ]=] \n b ]==]", 1, 5),
        Token("comment", "--[[ c\n ]]", 2, 9),
        Token("comment", "--[=[ ]] ]=]", 3, 5),
        Token("comment", "-- line [[", 3, 18),
        Token("name", "x", 4, 1),
        Token("comment", "--[ not long", 4, 3),
        Token("name", "y", 5, 1),
    ]


def test_lexer_unterminated_pieces_never_raise():
    # a short string stops at its line's end as an error token, and lexing goes on
    assert tokenize('x = "abc\ny = 2') == [
        Token("name", "x", 1, 1), Token("op", "=", 1, 3), Token("error", '"abc', 1, 5),
        Token("name", "y", 2, 1), Token("op", "=", 2, 3), Token("number", "2", 2, 5),
    ]
    # a long string or long comment runs to the end
    assert tokenize("x = [[abc\n tween.new()") == [
        Token("name", "x", 1, 1), Token("op", "=", 1, 3), Token("long_string", "[[abc\n tween.new()", 1, 5)
    ]
    assert tokenize("--[==[ never closed ]] \n y") == [Token("comment", "--[==[ never closed ]] \n y", 1, 1)]
    # characters Lua does not know
    assert kinds_texts("a $ b @ ! ` é") == [
        ("name", "a"), ("error", "$"), ("name", "b"), ("error", "@"), ("error", "!"), ("error", "`"),
        ("error", "é"),
    ]
    assert tokenize("") == [] and tokenize("  \n\t ") == []


def test_lexer_pathological_inputs_stay_linear():
    start = time.perf_counter()
    open_string = '"' + "\\z  " * 5_000  # overlapping escape branches, never closed
    assert [t.kind for t in tokenize(open_string)] == ["error"]
    assert [t.kind for t in tokenize("x = [==[" + "]=] ]] " * 20_000)] == ["name", "op", "long_string"]
    assert len(tokenize("--[[" * 20_000)) == 1
    assert len(tokenize("a." * 50_000)) == 100_000
    assert time.perf_counter() - start < 2.0  # ~0.1 s; exponential backtracking would never end


def test_lexer_rejects_non_strings():
    with pytest.raises(TypeError, match="expects str"):
        tokenize(b"x = 1")


def test_lexer_fuzz_never_raises_and_covers_the_source():
    rng = random.Random(1234)
    alphabet = list("abc_xyz019 \t\n.:,;()[]{}=~<>/\\\"'-+*#%^&|$@é") + ["[[", "]]", "--", "[==[", "]==]", "--[[", "0x", "\\z"]
    for _ in range(300):
        code = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        assert_tokens_cover(code)


# ------------------------------------------------------------------------------------------------
# References: the DESIGN.md rules one by one
# ------------------------------------------------------------------------------------------------


def test_references_chains_with_root_in_roots_only():
    assert extract_references("local t = tween.new(1, obj, {x = 1}, 'linear')\nt = other.new()", {"tween"}) == [
        Reference("tween.new", 1)
    ]


def test_references_ignore_comments():
    assert refs("-- tween.fake()\n--[[ tween.old\n]] --[==[ edi.x ]==] tween.real()") == ["tween.real"]


def test_references_ignore_strings_and_long_strings():
    assert refs("print('tween.a', \"edi.b\", [[tween.c]], [=[ edi.d ]=]) tween.e()") == ["tween.e"]


def test_references_trailing_method_segment():
    assert extract_references("local txt = edi.editor:getText()\n", ["edi"]) == [Reference("edi.editor:getText", 1)]
    # only one method segment: what follows the method is not part of the chain
    assert refs("edi.editor:getText():upper()") == ["edi.editor:getText"]
    assert refs("string:format('x')") == ["string:format"]


def test_references_method_call_on_non_root_not_counted():
    assert refs("local t = make()\nt:update(dt)\nself.tween:update(dt)\nobj.edi:go()") == []


def test_references_fields_of_other_things_are_not_roots():
    assert refs("self.tween.new() x.edi.editor = 1 a:tween()") == []


def test_references_labels_are_not_references():
    assert refs("goto tween\n::tween::\nedi.x()\n::a:: tween.y()") == ["edi.x", "tween.y"]


def test_references_table_constructor_keys_are_not_references():
    code = "local t = {tween = 1, [tween] = 2; string = f(tween), x = {edi\n= 3}}\na, tween = 1, 2\nf(x, tween == 1)"
    assert extract_references(code, ["tween", "edi", "string"]) == [
        Reference("tween", 1), Reference("tween", 1), Reference("tween", 3), Reference("tween", 4)
    ]


def test_references_and_calls_stay_linear_on_big_inputs():
    start = time.perf_counter()
    assert extract_references("t = {" + "string = 1, " * 30_000 + "}", ["string"]) == []
    assert len(extract_calls("string.rep(" * 10_000, ["string"])) == 10_000  # all cut off
    assert len(extract_calls("x = " + "string.len(" * 5_000 + ")" * 5_000, ["string"])) == 5_000
    assert time.perf_counter() - start < 3.0  # ~0.3 s


def test_references_whitespace_and_newlines_inside_a_chain():
    assert extract_references("x = tween\n  .easing\n  . linear\ny = edi . editor : getText ()", ["tween", "edi"]) == [
        Reference("tween.easing.linear", 1),
        Reference("edi.editor:getText", 4),
    ]


def test_references_chain_stops_at_index_or_call():
    assert refs('x = tween.a.b["c"].d  y = tween.new(1).field  z = tween.e[1]') == [
        "tween.a.b", "tween.new", "tween.e"
    ]


def test_references_name_based_locals_and_definitions_count():
    code = 'local tween = require("tween")\nfunction tween.new(d)\n  return setmetatable({}, tween)\nend\n'
    assert extract_references(code, {"tween"}) == [
        Reference("tween", 1), Reference("tween.new", 2), Reference("tween", 3)
    ]


def test_references_in_source_order_not_deduplicated():
    # deduplication is the metric's job
    assert refs("tween.new() tween.new() edi.a tween.new()") == ["tween.new", "tween.new", "edi.a", "tween.new"]


def test_references_broken_code_still_scanned():
    code = 'local t = tween.new(1, {x = 1\nif then edi.editor:getText(\nlocal s = "unterminated tween.fake\ntween.easing.'
    assert check_syntax(code).ok is False
    assert extract_references(code, ["tween", "edi"]) == [
        Reference("tween.new", 1), Reference("edi.editor:getText", 2), Reference("tween.easing", 4)
    ]


def test_references_no_roots_no_references():
    assert extract_references("tween.new()", []) == []
    assert extract_references("", ["tween"]) == []


# ------------------------------------------------------------------------------------------------
# Calls
# ------------------------------------------------------------------------------------------------


def test_calls_argument_counts():
    code = "\n".join([
        "tween.new()",
        "tween.new(1, {a, b, c}, f(x, y), 'z')",
        "tween.new(a, (b))",
        "tween.new(a, g(b))",
        "tween.new(...)",
        "tween.new(a, x:m())",
        "tween.new 'x'",
        "tween.new [[long]]",
        "tween.new {1, 2, 3}",
        "edi.editor:getText(1)",
        "tween.new(a, {b})",
        "tween.new(a, f{b})",
        "tween.new(a, t[1])",
    ])
    assert extract_calls(code, ["tween", "edi"]) == [
        Call("tween.new", 0, 1, False),
        Call("tween.new", 4, 2, False),
        Call("tween.new", 2, 3, False),
        Call("tween.new", 2, 4, True),
        Call("tween.new", 1, 5, True),
        Call("tween.new", 2, 6, True),
        Call("tween.new", 1, 7, False),
        Call("tween.new", 1, 8, False),
        Call("tween.new", 1, 9, False),
        Call("edi.editor:getText", 1, 10, False),
        Call("tween.new", 2, 11, False),
        Call("tween.new", 2, 12, True),
        Call("tween.new", 2, 13, False),
    ]


def test_calls_nested_in_source_order_and_non_calls_skipped():
    assert extract_calls("x = tween.easing\ntween.new(string.rep('a',\n 3), 2)", ["tween", "string"]) == [
        Call("tween.new", 2, 2, False),
        Call("string.rep", 2, 2, False),
    ]


def test_calls_cut_off():
    assert extract_calls("tween.new(1, f(2", ["tween"]) == [Call("tween.new", None, 1, False)]
    assert extract_calls("tween.new(1, f(2))", ["tween"]) == [Call("tween.new", 2, 1, True)]


# ------------------------------------------------------------------------------------------------
# ApiIndex
# ------------------------------------------------------------------------------------------------


API = ["tween.new", "tween.easing.linear", "tween.easing.inQuad", "edi.editor:getText", "Tween:update", "json"]


def test_api_index_names_and_roots():
    idx = ApiIndex(API)
    assert idx.names == set(API)
    assert idx.roots == {"tween", "edi", "Tween", "json"}
    assert len(idx) == 6


def test_api_index_from_records_skips_records_without_name():
    records = [{"name": "tween.new", "kind": "function"}, {"name": "Tween:update"}, {"kind": "field"}, {"name": 3}]
    idx = ApiIndex.from_records(records)
    assert idx.names == {"tween.new", "Tween:update"}
    assert idx.roots == {"tween", "Tween"}


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("tween.new", True),             # equal
        ("tween.easing.linear", True),   # equal
        ("tween.easing", True),          # prefix at a dot boundary
        ("tween", True),                 # the root itself
        ("edi.editor:getText", True),    # documented method
        ("edi.editor", True),            # prefix before the method segment
        ("edi", True),
        ("Tween:update", True),
        ("json", True),
        ("tween.ne", False),             # prefix, but not at a boundary
        ("tween.new.x", False),          # longer than any name
        ("tween.easing.linea", False),
        ("edi.editor.getText", False),   # '.' is not ':'
        ("edi.editor:gettext", False),   # case matters
        ("Tween.update", False),
        ("tween:new", False),
        ("", False),
    ],
)
def test_api_index_matches_equal_or_dot_boundary_prefix(ref, expected):
    assert ApiIndex(API).matches(ref) is expected


def test_api_index_closest():
    idx = ApiIndex(API)
    assert idx.closest("tween.nwe") == "tween.new"
    assert idx.closest("tween.easing.inquad") == "tween.easing.inQuad"
    assert idx.closest("zzzzzzzzzzzz") is None
    assert idx.closest("edi.editr:getText") == "edi.editor:getText"
    assert idx.closest("tween.easing.lineer") == "tween.easing.linear"  # among the siblings first


def test_api_index_closest_prefers_the_documented_subtree():
    idx = ApiIndex(["a.x.bcdefgh", "a.y.bcd", "net.http.get", "net.tcp.gets"])
    # a.y.bcd has the higher ratio (0.86 vs 0.78), but a.x is documented: look there first
    assert idx.closest("a.x.bcd") == "a.x.bcdefgh"
    # no documented net.ftp: the whole net subtree
    assert idx.closest("net.ftp.get") == "net.tcp.gets"


def test_api_index_lookups_scale():
    idx = ApiIndex(f"mod{i}.sub{j}.fn{k}" for i in range(10) for j in range(10) for k in range(100))
    start = time.perf_counter()
    hits = sum(idx.matches(f"mod{i % 12}.sub{i % 10}") for i in range(100_000))
    assert time.perf_counter() - start < 1.0  # O(1) lookups: ~0.02 s here
    assert hits == sum(1 for i in range(100_000) if i % 12 < 10)


# ------------------------------------------------------------------------------------------------
# Syntax check
# ------------------------------------------------------------------------------------------------


def test_syntax_ok_and_error_line():
    assert check_syntax("local x <const> = 1 // 2\nreturn x") == SyntaxResult(True, None, None)
    result = check_syntax("local x = 1\nlocal y = 2\nx = = 3\n")
    assert result == SyntaxResult(False, 3, "unexpected symbol near '='")


def test_syntax_is_lua_5_4_and_compile_only():
    # Lua 5.4 features, and 5.4 rejections (attribute names, 5.5's global declarations)
    assert check_syntax("goto done\n::done::\nlocal a <close> = nil").ok
    assert check_syntax("local x <foo> = 1") == SyntaxResult(False, 1, "unknown attribute 'foo'")
    assert not check_syntax("global x = 1").ok
    # not run: an infinite loop or an error at run time compiles fine
    assert check_syntax("while true do end error('boom')").ok


def test_syntax_errors_at_the_end_and_in_long_strings():
    assert check_syntax("function f()\n  return 1\n") == SyntaxResult(False, 3, "'end' expected (to close 'function' at line 1) near <eof>")
    result = check_syntax("x = [[\nabc")
    assert (result.ok, result.line) == (False, 2)
    assert result.message.startswith("unfinished long string")


def test_syntax_odd_inputs():
    assert check_syntax("x = 1\0") == SyntaxResult(False, 1, "unexpected symbol")
    assert check_syntax("") == SyntaxResult(True)
    assert check_syntax(b"return 1").ok
    assert check_syntax(None) == SyntaxResult(False, None, "not Lua source: expected str, got NoneType")
    assert check_syntax("s = '\ud800'").ok  # a lone surrogate still reaches Lua
    result = check_syntax("x = 1\ny = )", chunkname="gen:7")
    assert (result.line, result.message) == (2, "unexpected symbol near ')'")


def test_syntax_huge_input_is_fast():
    code = "local t = {}\n" + "t[#t + 1] = string.format('%d', 1)\n" * 50_000 + "return t"
    start = time.perf_counter()
    assert check_syntax(code).ok
    broken = code + "\nend"
    assert check_syntax(broken) == SyntaxResult(False, 50_003, "<eof> expected near 'end'")
    assert time.perf_counter() - start < 2.0


def test_syntax_lua_limits_are_errors_not_crashes():
    assert check_syntax("x = " + "{" * 300 + "}" * 300) == SyntaxResult(False, None, "C stack overflow")
    assert check_syntax("x = " + "(" * 100_000 + "1" + ")" * 100_000) == SyntaxResult(False, None, "C stack overflow")
    result = check_syntax("local a" + ", a" * 300 + " = 1")
    assert (result.ok, result.line) == (False, 1)
    assert result.message.startswith("too many local variables")


def test_syntax_check_from_threads():
    errors = []

    def work(k):
        for i in range(300):
            result = check_syntax(f"x = {i}\n" * k + "y = = 1")
            if result.line != k + 1:
                errors.append(result)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.skipif(shutil.which("luac5.4") is None, reason="luac5.4 not installed")
def test_syntax_agrees_with_luac():
    cases = ["x = 1", "x = = 1", "local function f(...) return ... end", "for i = 1, 2 do", "a.b:c'x'",
             "return 0x1p4 // 2", "local x <foo> = 1", "goto x", "::a:: ::a::", "break"]
    for code in cases:
        luac = subprocess.run(["luac5.4", "-p", "-"], input=code.encode(), capture_output=True)
        assert check_syntax(code).ok is (luac.returncode == 0), code


# ------------------------------------------------------------------------------------------------
# The real corpus
# ------------------------------------------------------------------------------------------------


def test_real_corpus_lexes_and_compiles(shared_data):
    files = sorted((shared_data / "lua_corpus").rglob("*.lua"))
    assert len(files) >= 150
    failed = []
    for path in files:
        code = path.read_text(encoding="utf-8", errors="replace")
        tokens = tokenize(code)
        assert tokens, path
        assert tokens[-1].line <= code.count("\n") + 1
        extract_references(code, {"ngx", "string", "table"})
        extract_calls(code, {"ngx", "string", "table"})
        if not check_syntax(code, chunkname=path.name).ok:
            failed.append(path.name)
    # the corpus is real, released code: (nearly) all of it compiles with Lua 5.4
    assert len(failed) <= len(files) // 20, failed


def test_api_index_bare_name_rule():
    """DESIGN.md: a bare name is a reference only when it is itself documented and not the root
    of longer documented names."""
    from luacoder_core.lua import ApiIndex

    index = ApiIndex(["tween", "tween.new", "spawn", "Tween:update"])
    assert index.is_reference("tween.new") and index.is_reference("Tween:update")
    assert index.is_reference("tween.fly")  # a reference (undocumented: it will not match)
    assert index.is_reference("spawn")
    assert not index.is_reference("tween") and not index.is_reference("Tween")
    code = 'local tween = require("tween")\nlocal t = tween.new(1)\nspawn()\n'
    assert [r.name for r in index.references(code)] == ["tween.new", "spawn"]
