"""Code in markdown: fenced and indented code blocks with their language and line, inline code
spans, and the Lua code of a markdown answer as DESIGN.md's report type ``markdown`` reads it.

Parsing is mistune 3's (CommonMark, with the table plugin so spans in table cells are found), to
an AST (``renderer=None``); mistune gives no line numbers, so each block's first line is found in
the source by walking it in document order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import mistune

__all__ = ["CodeBlock", "code_blocks", "inline_code", "lua_code"]


class CodeBlock(NamedTuple):
    """A code block: ``lang`` is the first word of a fence's info string, lowercased (``""`` for
    no info string and for indented blocks); ``code`` the block's text; ``line`` the 1-based line
    where the block starts (the opening fence, or an indented block's first line)."""

    lang: str
    code: str
    line: int


_parser: Any = None


def _parse(text: str) -> list[dict]:
    global _parser
    if _parser is None:
        _parser = mistune.create_markdown(renderer=None, plugins=["table", "strikethrough"])
    tokens = _parser(text)
    return tokens if isinstance(tokens, list) else []


def _walk(tokens: list[dict]) -> Iterator[dict]:
    """Every token of the tree in document order (depth first)."""
    for tok in tokens:
        yield tok
        children = tok.get("children")
        if isinstance(children, list):
            yield from _walk(children)


# A line that opens a fence, possibly inside block quotes and list items: container markers, then
# up to 3 spaces of indentation, then 3+ backticks or tildes.
_CONTAINER = r"(?:[ \t]*(?:>|[-+*]|\d{1,9}[.)])(?=[ \t]|$))*"
_FENCE_RE = re.compile(rf"^{_CONTAINER}[ \t]*(`{{3,}}|~{{3,}})")


class _LineFinder:
    """Finds each block's first line, moving forward through the source in document order."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.pos = 0  # index of the next line to look at

    def fenced(self, marker: str, code: str) -> int:
        first = code.split("\n", 1)[0].strip()
        lines = self.lines
        for i in range(self.pos, len(lines)):
            m = _FENCE_RE.match(lines[i])
            if not m or m.group(1)[0] != marker[0] or len(m.group(1)) < len(marker):
                continue
            if marker[0] == "`" and "`" in lines[i][m.end():]:
                continue  # ```x``` is an inline code span, not a fence
            if first and (i + 1 >= len(lines) or first not in lines[i + 1]):
                continue  # a fence-like line in an HTML block or the like, not this block's
            self.pos = i + 2 + code.count("\n")  # past the code and the closing fence
            return i + 1
        return self._fallback()

    def indented(self, code: str) -> int:
        first = next((ln.strip() for ln in code.split("\n") if ln.strip()), "")
        for i in range(self.pos, len(self.lines)):
            line = self.lines[i]
            if line.strip() == first and (line.startswith(("    ", "\t")) or ">" in line):
                self.pos = i + max(1, code.count("\n") + 1)
                return i + 1
        return self._fallback()

    def _fallback(self) -> int:
        return min(self.pos + 1, max(len(self.lines), 1))


def _blocks(text: str, tokens: list[dict] | None = None) -> list[tuple[CodeBlock, bool]]:
    """Every code block with whether it is fenced."""
    if not isinstance(text, str) or not text:
        return []
    finder = _LineFinder(text)
    out: list[tuple[CodeBlock, bool]] = []
    for tok in _walk(_parse(text) if tokens is None else tokens):
        if tok.get("type") != "block_code":
            continue
        code = tok.get("raw", "")
        if tok.get("style") == "fenced":
            info = ((tok.get("attrs") or {}).get("info") or "").strip()
            lang = info.split(None, 1)[0].lower() if info else ""
            line = finder.fenced(tok.get("marker") or "```", code)
            out.append((CodeBlock(lang, code, line), True))
        else:
            out.append((CodeBlock("", code, finder.indented(code)), False))
    return out


def code_blocks(text: str) -> list[CodeBlock]:
    """The fenced and indented code blocks of a markdown text, in document order, including those
    inside lists and block quotes. An unclosed fence runs to the end of the text (CommonMark), so
    a cut-off generation still gives its code."""
    return [block for block, _ in _blocks(text)]


def inline_code(text: str) -> list[str]:
    """The inline code spans (`` `x` ``) of a markdown text, in document order, wherever they sit
    (paragraphs, headings, lists, tables), never text inside code blocks."""
    if not isinstance(text, str) or not text:
        return []
    return _spans(_parse(text))


def _spans(tokens: list[dict]) -> list[str]:
    return [tok.get("raw", "") for tok in _walk(tokens) if tok.get("type") == "codespan"]


def lua_code(text: str) -> list[str]:
    """The Lua code of a markdown answer, per DESIGN.md report type ``markdown``: every fenced
    block whose language is ``lua`` or empty, then every inline code span. Blocks in other
    languages, indented blocks (DESIGN.md names fenced blocks only) and prose are left out."""
    if not isinstance(text, str) or not text:
        return []
    tokens = _parse(text)
    blocks = [b.code for b, fenced in _blocks(text, tokens) if fenced and b.lang in ("lua", "")]
    return blocks + _spans(tokens)
