"""``markdown-api``: an API reference written in markdown -> API records.

Real references come in many styles and this reads them with no per-file configuration:

* ATX headings holding the signature, plain or in a code span
  (``### `uv.fs_open(path, flags)` ``, ``## kong.response.exit(status[, body])``);
* setext or ATX headings holding a bare name followed by a signature line
  (``**syntax:** *ok, err = red:connect(host, port)*``, `` `syntax: ...` ``, a lone code span);
* methods written ``Class:method``, and ``> method form `obj:m()` `` aliases;
* ``**Parameters**`` / ``Arguments`` / ``Params`` bullet lists (`` `name`: `type` ``,
  ``**name** (`type`, _optional_): ...``, ``name (type): ...``) and tables;
* ``**Returns**`` inline or as a list; optional parameters as ``[x]``, ``x?``, "(optional)";
* a ``deprecated`` flag; Liquid/Jinja tags (``{% ... %}``, ``{{ ... }}``) and YAML front matter
  are ignored; prose headings are not records and nginx directives are not Lua functions.

The parsing is line based (mistune's AST has no line numbers, and every record carries its
``source: {file, line}``); code examples are fenced blocks in ``lua`` or, when they compile,
with no language.
"""

from __future__ import annotations

import functools
import html
import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from luacoder_core.components import Converter
from luacoder_core.errors import InputError

from luacoder_data.lua_doc import split_outside_brackets
from luacoder_data.options import common_params, open_output
from luacoder_data.outputs import Output

# ------------------------------------------------------------------------------------------------
# Text preparation
# ------------------------------------------------------------------------------------------------

_LIQUID_TAG_RE = re.compile(r"\{%-?.*?-?%\}")
_JINJA_VAR_RE = re.compile(r"\{\{.*?\}\}")
_EMPTY_ANCHOR_RE = re.compile(r"<a\s+(?:name|id)\s*=\s*[^>]*>\s*</a>", re.IGNORECASE)
_HTML_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_FENCE_OPEN_RE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*?)\s*$")


_ADMONITION_RE = re.compile(
    r"^(?P<indent>[ \t]*)(?:!!!|\?\?\?\+?)[ \t]*(?P<kind>[\w-]+)(?:[ \t]+[\w -]*?)?"
    r"(?:[ \t]*(?P<q>[\"'])(?P<title>.*)(?P=q))?[ \t]*$")


def _admonitions(lines: list[str]) -> None:
    """MkDocs admonitions (``!!! note "Title"`` then a body indented by four spaces or a tab),
    in place: the header becomes its title (as a code span when the title is a signature:
    ``!!!info "create(parameters)"``), the body is dedented so its lists and code blocks read
    as the document's own (fences inside it are fences)."""
    fence = None
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        head = line.lstrip()[:1]
        if head in ("`", "~"):
            m = _FENCE_OPEN_RE.match(line)
            if m:
                if fence is None:
                    fence = m.group("fence")
                elif m.group("fence")[0] == fence[0] and not m.group("info"):
                    fence = None
        if fence is not None or head not in ("!", "?"):
            i += 1
            continue
        m = _ADMONITION_RE.match(line)
        if not m:
            i += 1
            continue
        indent = m.group("indent")
        title = (m.group("title") or "").strip()
        if title and parse_signature(title) is not None:
            lines[i] = f"{indent}`{title}`"
        else:
            lines[i] = f"{indent}{title}" if title else ""
        j = i + 1
        while j < n:
            body = lines[j]
            if not body.strip():
                j += 1
                continue
            rest = body[len(indent):] if body.startswith(indent) else None
            if rest is None or not (rest.startswith("    ") or rest.startswith("\t")):
                break
            lines[j] = indent + (rest[4:] if rest.startswith("    ") else rest[1:])
            j += 1
        i += 1  # the dedented body is read again: an admonition inside it opens the same way


_HTML_HEADING_RE = re.compile(r"^\s{0,3}<h(?P<n>[1-6])\b[^>]*>", re.IGNORECASE)
_SHORTCODE_RE = re.compile(r":[a-z][a-z0-9_+-]*:")  # `:octicons-workflow-24:` icons


def _html_heading(lines: list[str], i: int) -> None:
    """``<h1 class="x" markdown>`` ... ``</h1>`` (one line or several) becomes an ATX heading
    of its text on the first line, the rest blanked (line numbers stay)."""
    m = _HTML_HEADING_RE.match(lines[i])
    level = m.group("n")
    close = re.compile(rf"</h{level}\s*>", re.IGNORECASE)
    j = i
    while j < min(len(lines), i + 16) and not close.search(lines[j]):
        j += 1
    if j >= len(lines) or not close.search(lines[j]):
        return
    text = " ".join(lines[i:j + 1])
    text = close.split(text, 1)[0][m.end():]
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    text = re.sub(r"\s+", " ", _SHORTCODE_RE.sub(" ", text)).strip()
    lines[i] = "#" * int(level) + " " + text if text else ""
    for k in range(i + 1, j + 1):
        lines[k] = ""


_ADOC_UNDERLINE = "=-~^+"


def looks_like_asciidoc(path: Path, head: str) -> bool:
    """An AsciiDoc page (``manual.adoc``, or a ``.txt`` with ``[source,lua]`` blocks and
    underlined titles)."""
    suffix = path.suffix.lower()
    if suffix in (".adoc", ".asciidoc", ".asc"):
        return True
    return suffix == ".txt" and ("[source," in head or "ft=asciidoc" in head) and bool(
        re.search(r"^[^\s].*\n[~^]{3,}\s*$", head, re.MULTILINE))


def asciidoc_to_markdown(lines: list[str]) -> list[str]:
    """AsciiDoc lines as the markdown this reader knows, one line for one line: underlined
    and ``== x`` titles become ATX headings, ``[source,lua]`` + ``----`` listings (or a
    source paragraph) fenced code, ``+mono+`` code spans, ``term:: text`` list items; block
    anchors, attribute lines and comments are blanked."""
    out = list(lines)
    n = len(out)
    i = 0
    block: str | None = None
    lang = ""
    while i < n:
        s = out[i].strip()
        if block is not None:
            if s == block:
                out[i] = "```"
                block = None
            i += 1
            continue
        src = re.fullmatch(r"\[source\s*,\s*(?P<lang>[\w+-]+)[^\]]*\]", s)
        if src:
            lang = src.group("lang").lower()
            nxt = out[i + 1].strip() if i + 1 < n else ""
            if nxt and not re.fullmatch(r"-{4,}|\.{4,}", nxt):
                # a source paragraph: the code runs to the next blank line
                j = i + 1
                while j < n and out[j].strip():
                    j += 1
                out[i] = "```" + lang
                if j < n:
                    out[j] = "```"
                    i = j + 1
                else:
                    out.append("```")
                    i = n
                lang = ""
                continue
            out[i] = ""
            i += 1
            continue
        under = out[i + 1].strip() if i + 1 < n else ""
        if s and under and under[0] in _ADOC_UNDERLINE and re.fullmatch(rf"\{under[0]}{{2,}}", under) \
                and abs(len(under) - len(s)) <= 2 and not re.fullmatch(r"\[.*\]", s) \
                and not re.fullmatch(r"[-=~^+.*_]{4,}", s):
            out[i] = "#" * (_ADOC_UNDERLINE.index(under[0]) + 1) + " " + s
            out[i + 1] = ""
            i += 2
            continue
        if re.fullmatch(r"-{4,}|\.{4,}", s):  # a listing or literal block
            block = s
            out[i] = "```" + lang
            lang = ""
        elif re.fullmatch(r"={4,}|\*{4,}|_{4,}", s) or re.fullmatch(r"\[\[[^\]]+\]\]", s) \
                or re.fullmatch(r"\[[A-Za-z0-9_, =\"'.-]*\]", s) or out[i].startswith("//") \
                or re.fullmatch(r":[\w-]+:.*", s):
            out[i] = ""  # block delimiters, anchors, attributes, comments
        elif re.match(r"^=+\s+\S", out[i]):
            m = re.match(r"^(=+)\s+(.+?)\s*=*\s*$", out[i])
            out[i] = "#" * min(len(m.group(1)), 6) + " " + m.group(2)
        else:
            line = re.sub(r"(?<![\w+`])\+\+?([^+\n]+?)\+\+?(?![\w+])", r"`\1`", out[i])
            line = re.sub(r"<<[\w.-]+,([^>]+)>>", r"\1", line)
            ll = re.match(r"^(?P<term>\S.*?)::(?:\s+(?P<desc>.*))?$", line)
            if ll and "(" not in ll.group("term"):
                line = f"- {ll.group('term')}: {ll.group('desc') or ''}".rstrip()
            out[i] = line
        i += 1
    return out


def prepare_lines(text: str | list[str], *, front_matter: bool = True) -> list[str]:
    """Lines of ``text`` with front matter, template tags, empty ``<a name>`` anchors and HTML
    comments blanked out (the line count stays the same, so line numbers keep pointing into the
    original file)."""
    if isinstance(text, str):
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
    else:
        lines = list(text)
    if front_matter and lines and lines[0].strip() == "---":
        for end in range(1, min(len(lines), 200)):
            if lines[end].strip() in ("---", "..."):
                for i in range(end + 1):
                    lines[i] = ""
                break
    joined = "\n".join(lines)
    # blank comments but keep their newlines
    joined = _HTML_COMMENT_RE.sub(lambda m: "\n" * m.group(0).count("\n"), joined)
    joined = _LIQUID_TAG_RE.sub("", joined)
    lines = joined.split("\n")
    if "!!!" in joined or "???" in joined:
        _admonitions(lines)
    in_fence = None
    for i, line in enumerate(lines):
        m = _FENCE_OPEN_RE.match(line) if line.lstrip()[:1] in ("`", "~") else None
        if in_fence is None:
            if m:
                in_fence = m.group("fence")
                continue
            if "{{" in line:  # Jinja output tags outside code (Lua tables may hold "{{")
                parts = re.split(r"(`[^`]*`)", line)  # not inside code spans either
                line = lines[i] = "".join(part if part.startswith("`") and part.endswith("`")
                                          and len(part) > 1 else _JINJA_VAR_RE.sub("", part)
                                          for part in parts)
            if "<a" in line:  # `<a name="torch.Tensor.narrow"></a>`: an anchor, not text
                line = lines[i] = _EMPTY_ANCHOR_RE.sub("", line)
            if line.lstrip()[:2].lower() == "<h" and _HTML_HEADING_RE.match(line):
                _html_heading(lines, i)
        elif m and m.group("fence")[0] == in_fence[0] and len(m.group("fence")) >= len(in_fence) \
                and not m.group("info"):
            in_fence = None
    return lines


# ------------------------------------------------------------------------------------------------
# Signatures
# ------------------------------------------------------------------------------------------------

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
NAME_RE = re.compile(rf"{IDENT}(?:\.{IDENT})*(?::{IDENT})?")
_NAME_ONLY_RE = re.compile(rf"^(?:{IDENT}(?:\.{IDENT})*(?::{IDENT})?)$")
_LUA_KEYWORDS = frozenset(
    "and break do else elseif end false for function goto if in local nil not or repeat return "
    "then true until while".split())
_FILE_EXTENSIONS = frozenset("md markdown lua txt json html htm js py c h cpp conf yaml yml sh so "
                             "dll rockspec toml ini cfg xml csv rst org".split())
_TRAILER_RE = re.compile(r"^(?:$|->|→|=>|:|—|–|-\s|;|,|\s+(?:->|→|=>|—|–|-|returns?\b)|"
                         r"\s*\([^()]*\)\s*$|\s*\[[^\]]*\]\s*$)")


@dataclass
class Signature:
    """A parsed call signature: ``name``, its parameters, and the text as written."""

    name: str
    text: str
    params: list[dict[str, Any]]
    has_call: bool = True
    returns: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "method" if ":" in self.name else "function"


_MD_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_REFLINK_RE = re.compile(r"\[([^\]]*)\]\[[^\]]*\]")
_ATTR_ANCHOR_RE = re.compile(r"\{#[^}]*\}\s*$")
_A_EMPTY_RE = re.compile(r"<a\s[^>]*>\s*</a>")
_INLINE_TAG_RE = re.compile(
    r"</?(?:a|span|code|br|b|i|em|strong|sup|sub|div|p|img|kbd|small|del|s|u)\b[^>]*>",
    re.IGNORECASE)


@functools.lru_cache(maxsize=8192)
def _clean_inline(text: str) -> str:
    """Markdown emphasis, escapes and links out of a heading or signature line."""
    if "[" in text:
        text = _MD_LINK_RE.sub(r"\1", text)  # [text](url)
        text = _MD_REFLINK_RE.sub(r"\1", text)  # [text][ref]
    if "{#" in text:
        text = _ATTR_ANCHOR_RE.sub("", text)  # {#anchor}
    if "<" in text:
        text = _A_EMPTY_RE.sub("", text)
        text = _INLINE_TAG_RE.sub("", text)
    text = text.replace("\\", "")
    return text.strip()


def _strip_emphasis(text: str) -> str:
    text = text.strip()
    if text[:1] not in ("*", "_", "~"):
        return text
    for mark in ("***", "**", "__", "*", "_", "~~"):
        if len(text) > 2 * len(mark) and text.startswith(mark) and text.endswith(mark):
            text = text[len(mark):-len(mark)].strip()
    return text


def _matching_paren(text: str, start: int) -> int:
    depth = 0
    quote = None
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def split_params(args: str) -> list[dict[str, Any]] | None:
    """Parameters of a signature's argument text, or None when it is not a parameter list.

    ``status[, body[, headers]]`` -> status, body (optional), headers (optional); ``x?``,
    ``x = 1`` and ``[x]`` are optional; ``path: string`` gives a type; literals are kept as
    written (``"unix:/path.sock"``) and ``...`` is a parameter.
    """
    params: list[dict[str, Any]] = []
    depth_sq = 0
    depth = 0
    quote = None
    token = ""
    token_optional: bool | None = None  # bracket depth when the token's first character came
    angle = 0  # `Dictionary<string, bool>`: a generic type's comma splits no parameter
    for ch in args + ",":
        if quote:
            token += ch
            if ch == quote:
                quote = None
            continue
        if ch == "<" and token[-1:].isalnum():
            angle += 1
        elif ch == ">" and angle and token[-1:] != "-":
            angle -= 1
        if angle and ch == ",":
            token += ch
            continue
        if ch == "[" and depth == 0:
            depth_sq += 1
        elif ch == "]" and depth == 0:
            depth_sq = max(depth_sq - 1, 0)
        elif ch == "," and depth == 0:
            if token.strip():
                raw = token.strip()
                spread = re.match(rf"^({IDENT})\s+(\.\.\.)$", raw)  # `dim1e ...`
                for part in (spread.groups() if spread else (raw,)):
                    param = _param_from_token(part, bool(token_optional))
                    if param is None:
                        return None
                    params.append(param)
            token = ""
            token_optional = None
        else:
            if ch in "\"'":
                quote = ch
            elif ch in "({":
                depth += 1
            elif ch in ")}":
                depth -= 1
            if token_optional is None and ch.strip():
                token_optional = depth_sq > 0
            token += ch
    if quote:
        return None
    return params


_PARAM_TOKEN_RE = re.compile(
    rf"^(?P<pre>\.\.\.(?={IDENT}))?(?P<name>\.\.\.|{IDENT})(?P<dots>\.\.\.?)?(?P<q>\?)?(?:\s*:\s*(?P<type>[^=]+?))?"
    r"(?:\s*=\s*(?P<default>.+))?$")


def _param_from_token(raw: str, optional: bool) -> dict[str, Any] | None:
    raw = raw.strip().strip("`").strip()
    if raw in ("..", "…"):
        raw = "..."  # `log_error(arg, ..)`: a vararg written short
    m = _PARAM_TOKEN_RE.match(raw)
    if m:
        name = m.group("name")  # keywords too: docs name parameters `repeat`, `end`
        vararg = name == "..." or bool(m.group("dots") or m.group("pre"))  # `args...`, `...args`
        opt = optional or bool(m.group("q")) or m.group("default") is not None or vararg
        param: dict[str, Any] = {"name": name, "optional": opt}
        if vararg and name != "...":
            param["vararg"] = True
        if m.group("type"):
            ptype = m.group("type").strip()
            if ptype.endswith("?"):
                ptype = ptype[:-1]
                param["optional"] = True
            param["type"] = ptype
        return param
    if re.fullmatch(rf"\{{\s*{IDENT}(?:\s*,\s*(?:{IDENT}|\.\.\.))+\s*\}}", raw):
        # `core.bulk_set_node({pos1, pos2, pos3, ...}, node)`: a list the caller passes
        return {"name": raw, "type": "table", "optional": optional}
    # literals and tables in example-like signatures: "unix:/path.sock", {opts}, 123, name type
    if re.match(r'^(?:"[^"]*"|\'[^\']*\'|\{.*\}|-?\d[\d.]*|true|false|nil|function\s*\(.*)$', raw,
                re.DOTALL):
        return {"name": raw, "optional": optional, "literal": True}
    m = re.match(rf"^{IDENT}(?:\s*\|\s*{IDENT})+$", raw)
    if m:  # `scatter(dim, index, src|val)`: one parameter, either of two names
        return {"name": re.sub(r"\s+", "", raw), "optional": optional}
    m = re.match(rf"^(?P<type>{IDENT}(?:\|{IDENT})*)\s+(?P<name>{IDENT})(?P<q>\?)?$", raw)
    if m:  # "string path" (typed C-like signatures)
        return {"name": m.group("name"), "type": m.group("type"),
                "optional": optional or bool(m.group("q"))}
    return None


_ASSIGN_RE = re.compile(
    rf"^(?:local\s+)?(?:{IDENT}\??|\.\.\.)(?:\s*,\s*(?:{IDENT}\??|\.\.\.))*\s*=(?!=)\s*")
_REQUIRE_CALL_RE = re.compile(
    r"^(?P<pre>(?:local\s+)?(?:[\w?]+\s*,\s*)*(?:[\w?]+\s*=\s*)?)?"
    r"require\s*\(?\s*[\"'](?P<mod>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)[\"']\s*\)?(?=[.:])")
_ARROW_RE = re.compile(r"^\s*(?:->|→|=>)\s*(?P<type>.+?)\s*$")


def _left_returns(assignment: str) -> list[dict[str, Any]]:
    """``ok, err =`` / ``newval, err, forcible? =`` -> the values a call returns, in order."""
    names = [t.strip() for t in re.sub(r"^local\s+|=\s*$", "", assignment.strip()).split(",")]
    out = []
    for n in names:
        if not n:
            continue
        entry: dict[str, Any] = {"name": n.rstrip("?"), "type": None, "description": ""}
        if n.endswith("?"):
            entry["optional"] = True
        out.append(entry)
    return out


def parse_signature(text: str, *, allow_spaced_bare: bool = False) -> Signature | None:
    """A call signature at the start of ``text`` (after an optional ``a, b =`` assignment and
    ``function``), e.g. ``ok, err = red:connect(host, port?)`` -> ``red:connect``."""
    text = _strip_emphasis(_clean_inline(text)).strip().strip("`").strip()
    text = _strip_emphasis(text)
    if not text:
        return None
    text = re.sub(r"^(?:(?:static|async|abstract|export|public)\s+)*(?:function\s+)?", "", text)
    if "require" in text:  # `require('telescope.builtin').find_files(opts)`
        text = _REQUIRE_CALL_RE.sub(lambda m: (m.group("pre") or "") + m.group("mod"), text, count=1)
    assign = _ASSIGN_RE.match(text)
    returns = _left_returns(assign.group(0)) if assign else []
    if assign:
        text = text[assign.end():]
    m = NAME_RE.match(text)
    if not m:
        return None
    name = m.group(0)
    if name in _LUA_KEYWORDS:
        return None
    rest = text[m.end():]
    if rest.startswith("<"):  # `Fusion.scoped<T>(...)`: a generic function
        gen = re.match(r"^<[^<>()]*>", rest)
        if gen:
            rest = rest[gen.end():]
    spaced = rest[:1].isspace()
    rest_stripped = rest.lstrip()
    if rest_stripped.startswith("{") and not spaced and ("." in name or ":" in name):
        # a table call: `pane:split{direction = "Top"}` / `pane:split{}`
        close = _matching_paren(rest_stripped, 0)
        if close < 0 or rest_stripped[close + 1:].strip() not in ("", ";"):
            return None
        return Signature(name=name, text=f"{name}{rest_stripped[:close + 1]}",
                         params=[{"name": "args", "type": "table", "optional": False}],
                         returns=returns)
    if not rest_stripped.startswith("("):
        return None
    if spaced and "." not in name and ":" not in name and not allow_spaced_bare:
        return None  # "Example (advanced)" is prose
    close = _matching_paren(rest_stripped, 0)
    if close < 0:
        return None
    args = rest_stripped[1:close]
    trailer = rest_stripped[close + 1:]
    if "{" in args and re.fullmatch(rf"\s*\[?\s*\{{(?:{IDENT}|\.\.\.)\}}\s*\]?(?:\s*\[?\s*,\s*\{{(?:{IDENT}|\.\.\.)\}}\s*\]?)*\s*", args):
        args = re.sub(rf"\{{({IDENT}|\.\.\.)\}}", r"\1", args)  # vimdoc: `vim.re.find({subject}, {pattern})`
    if not _TRAILER_RE.match(trailer):
        return None
    params = split_params(args)
    if params is None:
        return None
    arrow = _ARROW_RE.match(trailer) or re.match(r"^\s*:\s*(?P<type>[^:\s].*?)\s*$", trailer)
    if arrow and not returns:
        rtype = arrow.group("type").strip("`* ")
        # `-> boolean, string`: two values
        returns = [{"type": t, "description": ""} for t in _split_top(rtype) if t] if rtype else []
    sig_text = f"{name}({args.strip()})"
    return Signature(name=name, text=sig_text, params=params, returns=returns)


def _is_api_name(name: str) -> bool:
    if not _NAME_ONLY_RE.match(name) or name in _LUA_KEYWORDS:
        return False
    last = re.split(r"[.:]", name)[-1]
    if ("." in name or ":" in name) and last.lower() in _FILE_EXTENSIONS:
        return False
    return True


def last_segment(name: str) -> str:
    return re.split(r"[.:]", name)[-1]


# ------------------------------------------------------------------------------------------------
# Document structure
# ------------------------------------------------------------------------------------------------

_ATX_RE = re.compile(r"^ {0,3}(?P<level>#{1,6})(?:(?:[ \t]+|(?=[A-Za-z_`*]))(?P<text>.*?))?"
                     r"(?:[ \t]+#+)?[ \t]*$")
_SETEXT_RE = re.compile(r"^ {0,3}(?P<ch>=+|-+)[ \t]*$")
_LIST_ITEM_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>[-*+]|\d{1,9}[.)])(?:[ \t]+(?P<body>.*)|$)")


@dataclass
class Heading:
    level: int
    text: str
    line: int  # 0-based index of the heading text line
    end: int  # 0-based index of the first line after the heading (past a setext underline)


@dataclass
class Fence:
    lang: str
    code: str
    start: int
    end: int  # index past the closing fence


_LIST_HEADS = frozenset("-*+0123456789")
_SEVERAL_PARAMS_RE = re.compile(
    rf"^(?:\*\*|__|`)(?P<names>{IDENT}(?:\s*,\s*{IDENT})+)(?:\*\*|__|`)(?P<rest>\s*[:\-—–].*)$",
    re.DOTALL)
_LUA_GLOBALS = frozenset(
    "assert collectgarbage dofile error getmetatable ipairs load loadfile next pairs pcall print "
    "rawequal rawget rawlen rawset require select setmetatable tonumber tostring type unpack "
    "xpcall".split())
_LONE_SIG_RE = re.compile(r"^\s{0,3}(?P<b>\*\*|__)?(?P<c>`)?(?P<sig>[A-Za-z_][^`*]*?\))(?P=c)?(?P=b)?\s*$")
_LIST_SIG_RE = re.compile(r"^\s{0,3}[-*+]\s+(?:\*\*|__)?`(?P<sig>[^`]+)`(?:\*\*|__)?(?P<rest>(?:\s*[:\-—–]\s|\s*$|\s+\S).*)$")


def scan_structure(lines: list[str]) -> tuple[list[Heading], dict[int, Fence]]:
    """Headings (ATX and setext) and fenced blocks (keyed by their first line index)."""
    headings: list[Heading] = []
    fences: dict[int, Fence] = {}
    i = 0
    n = len(lines)
    prev_blank = True
    prev_kind = "blank"  # blank | para | list | heading | fence | quote
    while i < n:
        line = lines[i]
        head = line.lstrip()[:1]
        m = _FENCE_OPEN_RE.match(line) if head in ("`", "~") else None
        if m:
            fence = m.group("fence")
            info = m.group("info").strip()
            j = i + 1
            while j < n:
                c = _FENCE_OPEN_RE.match(lines[j]) if fence[0] in lines[j][:4 + len(fence)] else None
                if c and c.group("fence")[0] == fence[0] and len(c.group("fence")) >= len(fence) \
                        and not c.group("info").strip():
                    break
                j += 1
            indent = len(m.group("indent"))
            code_lines = [ln[indent:] if ln[:indent].strip() == "" else ln.lstrip()
                          for ln in lines[i + 1:j]]
            lang = info.split(None, 1)[0].lower().strip("{}.") if info else ""
            fences[i] = Fence(lang, "\n".join(code_lines), i, min(j + 1, n))
            i = min(j + 1, n)
            prev_blank, prev_kind = False, "fence"
            continue
        a = _ATX_RE.match(line) if head == "#" else None
        if a:
            headings.append(Heading(len(a.group("level")), (a.group("text") or "").strip(), i, i + 1))
            i += 1
            prev_blank, prev_kind = False, "heading"
            continue
        if i + 1 < n and line.strip() and prev_kind in ("blank", "heading", "fence") \
                and not line.startswith(("    ", "\t")) \
                and not (head in _LIST_HEADS and _LIST_ITEM_RE.match(line)) \
                and not line.lstrip().startswith((">", "|")):
            nxt = lines[i + 1].lstrip()[:1]
            s = _SETEXT_RE.match(lines[i + 1]) if nxt in ("=", "-") else None
            if s:
                level = 1 if s.group("ch")[0] == "=" else 2
                headings.append(Heading(level, line.strip(), i, i + 2))
                i += 2
                prev_blank, prev_kind = False, "heading"
                continue
        if not line.strip():
            prev_blank, prev_kind = True, "blank"
        elif head in _LIST_HEADS and _LIST_ITEM_RE.match(line):
            prev_kind = "list"
        elif line.lstrip().startswith(">"):
            prev_kind = "quote"
        elif prev_kind != "list" or prev_blank:
            prev_kind = "para"
        prev_blank = not line.strip()
        i += 1
    return headings, fences


# ------------------------------------------------------------------------------------------------
# Section bodies: labels, parameters, returns
# ------------------------------------------------------------------------------------------------

_LABELS = {
    "params": ("parameters", "parameter", "params", "param", "arguments", "argument", "args",
               "inputs", "input parameters"),
    "returns": ("returns", "return", "return value", "return values", "returned values",
                "results", "result", "return type"),
    "usage": ("usage", "example", "examples", "sample", "samples", "usage example"),
    "phases": ("phases", "phase", "context", "contexts"),
    "syntax": ("syntax", "signature", "synopsis", "prototype", "declaration", "definition"),
    "deprecated": ("deprecated",),
    "default": ("default",),
    "type": ("type",),
}
_LABEL_KIND = {word: kind for kind, words in _LABELS.items() for word in words}
_LABEL_INNER_RE = re.compile(r"^(?P<label>[A-Za-z][A-Za-z ]*?)\s*(?:\((?P<variant>[^)]*)\))?\s*:?\s*$")
_EMPHASIZED_RE = re.compile(r"^(?P<mark>\*\*|__|\*|_)(?P<inner>[^*_]+?)(?P=mark)\s*(?P<rest>.*)$")
_PLAIN_LABEL_RE = re.compile(r"^(?P<inner>[A-Za-z][A-Za-z ]*(?:\([^)]*\))?)\s*:\s*(?P<rest>.*)$")


def _label_kind(inner: str) -> tuple[str, str | None] | None:
    m = _LABEL_INNER_RE.match(inner.strip())
    if not m:
        return None
    kind = _LABEL_KIND.get(m.group("label").strip().lower())
    return (kind, m.group("variant")) if kind else None


_LABEL_HEADING_RE = re.compile(r"^#{1,6}\s*(?P<text>[^#\s].*?)\s*#*$")


def match_label(line: str) -> tuple[str, str, str | None] | None:
    """``(kind, rest of line, variant)`` when ``line`` opens a labelled block (``**Returns:**
    x``, ``**Parameters**``, ``Returns (sync version):``, ``#### Parameters``), else None."""
    s = line.strip()
    if not s or (":" not in s and s[0] not in "#*_"):
        return None  # most lines: no label
    h = _LABEL_HEADING_RE.match(s) if s[0] == "#" else None
    if h:
        typed = re.match(r"^returns?\s*(?:->|→|:)\s*(?P<t>\S.*)$", h.group("text"), re.IGNORECASE)
        if typed:  # `## Returns -> Scope<T>`
            return "returns", f"`{typed.group('t')}`", None
        found = _label_kind(_strip_emphasis(h.group("text")))
        return (found[0], "", found[1]) if found else None
    m = _EMPHASIZED_RE.match(s)
    if m:
        found = _label_kind(m.group("inner"))
        if found:
            rest = re.sub(r"^:\s*", "", m.group("rest").strip())
            return found[0], rest, found[1]
        return None
    m = _PLAIN_LABEL_RE.match(s)
    if m:
        found = _label_kind(m.group("inner"))
        if found and (not m.group("rest").strip() or found[0] in ("syntax", "deprecated", "params",
                                                                   "returns")):
            return found[0], m.group("rest").strip(), found[1]
    return None


_SYNTAX_INLINE_RE = re.compile(r"^\s*`\s*syntax\s*:\s*(?P<sig>.+?)\s*`\s*$", re.IGNORECASE)
_METHOD_FORM_RE = re.compile(r"^\s*>\s*method form\s+`(?P<sig>[^`]+)`", re.IGNORECASE)
_LINK_DEF_RE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+\s*$")
_CODE_SPAN_RE = re.compile(r"`([^`]+)`")
# "deprecated" is a marker on the entry - a line that opens with it (`**Deprecated**`,
# `> Deprecated since 2.0`, `WARNING: deprecated`), `@deprecated`, `(deprecated)`, or a sentence
# whose subject is the entry ("this method is now deprecated") - never any prose using the word
_DEPRECATED_TEXT_RE = re.compile(
    r"(?:^[\s>*_!\[]*(?:(?:warning|note|caution|attention)\W+)?deprecated\b|"
    r"\bth(?:is|e)\s+(?:function|method|api|call|field|property|option|module|class)\s+"
    r"(?:is|has\s+been|was)\s+(?:now\s+)?deprecated\b|"
    r"@deprecated\b|\(deprecated\)|\[deprecated\])", re.IGNORECASE)


_TYPE_ICON_RE = re.compile(
    r"^\[\s*<span[^>]*class=[\"'][^\"']*?\b(?:tag|type|ret)[ _-](?P<t>\w+)[^>]*>\s*</span>\s*\]"
    r"(?:\([^)]*\))?(?:&nbsp;|\s)*")
# short type names written as icon classes (`tag str`, `ret boo`)
_ICON_TYPES = {"str": "string", "int": "integer", "flo": "float", "boo": "boolean", "tab": "table",
               "fun": "function", "num": "number", "obj": "object", "nil": "nil", "var": "any"}


def _param_from_item(text: str) -> dict[str, Any] | None:
    """One parameter bullet in the common spellings, or None when it names no parameter.

    `` `name`: `type` or `nil` (note) `` · ``**name** (`type`, _optional_): desc`` ·
    ``name (type): desc`` · ``name - desc`` · ``[name] (type) desc`` · ``name? type desc``.
    """
    text = text.strip()
    span_type = None
    if text.startswith("[") and "<span" in text:
        icon = _TYPE_ICON_RE.match(text)  # `[<span class="tag str"></span>](types) **id**: ...`
        if icon:
            span_type = _ICON_TYPES.get(icon.group("t").lower(), icon.group("t"))
            text = text[icon.end():]
    if "<" in text:  # Defold: `url` <span class="type">string | hash</span> the target
        st = re.search(r"<span[^>]*class=[\"']?type[^>]*>(?P<t>.*?)</span>", text)
        if st:
            span_type = re.sub(r"<[^>]+>", "", st.group("t")).strip() or None
            text = (text[: st.start()] + " " + text[st.end():]).strip()
        text = _HTML_TAG_RE.sub("", text).strip()
    m = re.match(
        rf"^(?:\*\*|__|\*|_)?`?(?P<ob>\[)?(?P<name>\.\.\.|{IDENT}(?:\.{IDENT})*)(?P<cb>\])?(?P<q>\?)?`?"
        r"(?:\*\*|__|\*|_)?(?P<rest>.*)$", text, re.DOTALL)
    if not m:
        return None
    name = m.group("name")
    rest = m.group("rest")
    if rest and rest[:1] not in " \t:(-—–," and not rest.startswith("\n"):
        return None  # the item starts with a word that is not a name ("This param...")
    optional = bool(m.group("ob") or m.group("q"))
    ptype = None
    rest = rest.strip()
    meta = re.match(r"^\((?P<meta>[^()]*(?:\([^()]*\)[^()]*)*)\)\s*", rest)
    if meta:
        parts = [p.strip().strip("`_* ") for p in meta.group("meta").split(",")]
        types = []
        for part in parts:
            if "optional" in part.lower():
                optional = True
            elif part.lower() in ("required",):
                pass
            elif part:
                types.append(part.replace("`", ""))
        if types:
            ptype = ", ".join(types)
        rest = rest[meta.end():]
    rest = re.sub(r"^\s*(?::|-|—|–)\s*", "", rest)
    if ptype is None:
        t = re.match(r"^((?:`[^`]+`(?:\s*(?:or|\||,|for sub-type of|of)\s*)?)+)(?P<after>.*)$",
                     rest, re.DOTALL)
        if t:
            ptype = re.sub(r"\s+", " ", t.group(1).replace("`", "")).strip().rstrip(",")
            rest = t.group("after")
    description = re.sub(r"\s+", " ", rest.replace("\n", " ")).strip()
    description = re.sub(r"^[:\-—–]\s*", "", description)
    if re.match(r"^\(?\s*_?optional_?\s*\)?[.,:]?(\s|$)", description, re.IGNORECASE):
        optional = True
    if ptype and (ptype.endswith("?") or ptype.startswith("?")
                  or re.search(r"\boptional\b", ptype, re.IGNORECASE)):
        optional = True
        ptype = re.sub(r"^\?|\?$|,?\s*\boptional\b", "", ptype, flags=re.IGNORECASE).strip() or None
    return {"name": name, "type": ptype or span_type, "description": description,
            "optional": optional}


def _return_from_item(text: str, variant: str | None = None) -> dict[str, Any]:
    text = re.sub(r"\s+", " ", text.replace("\n", " ")).strip()
    rtype = None
    t = re.match(r"^((?:`[^`]+`(?:\s*(?:or|\||,)\s*)?)+)(?P<after>.*)$", text)
    if t:
        rtype = re.sub(r"\s+", " ", t.group(1).replace("`", "")).strip().rstrip(",").strip()
        text = t.group("after")
    else:
        t = re.match(r"^(?:\*\*|__)?(?P<type>[A-Za-z_][\w.|]*(?:\[\])?)(?:\*\*|__)?\s*[:\-—–]\s+(?P<after>.*)$",
                     text)
        if t and t.group("type").lower() in _KNOWN_TYPES:
            rtype = t.group("type")
            text = t.group("after")
    description = re.sub(r"^[:\-—–]\s*", "", text.strip())
    if rtype is None and description.startswith(("[", "_[", "*[")):
        link = _LEADING_TYPE_RE.match(description)  # `[ShapeObject][api.type.ShapeObject]`
        if link and link.group("a"):
            rtype = link.group("a").strip()
            description = description[link.end():].strip()
    if rtype is None:  # pandoc: "the entry's MIME type, or nil. (string)"
        tail = re.search(r"\s*\((?P<t>[\w.\[\]|]+(?:\s+or\s+[\w.\[\]|]+)*)\)\s*$", description)
        if tail and all(w.lower() in _KNOWN_TYPES or w[:1].isupper() or "." in w
                        for w in re.split(r"\s+or\s+|\|", tail.group("t"))):
            rtype = tail.group("t")
            description = description[: tail.start()].strip()
    entry: dict[str, Any] = {"type": rtype, "description": description}
    if variant:
        entry["variant"] = variant
    return entry


_PAREN_TYPES_RE = re.compile(r"^\((?P<types>`[^`]+`(?:\s*,\s*`[^`]+`)*)\)\s*:?\s*(?P<rest>.*)$", re.DOTALL)


def _returns_from_text(text: str, variant: str | None = None) -> list[dict[str, Any]]:
    """One return item, or several when it opens with their types in parentheses:
    ``(`integer?`, `integer?`): match start and end``."""
    m = _PAREN_TYPES_RE.match(text.strip())
    if not m:
        return [_return_from_item(text, variant)]
    types = re.findall(r"`([^`]+)`", m.group("types"))
    desc = re.sub(r"\s+", " ", m.group("rest")).strip()
    out = []
    for k, t in enumerate(types):
        entry: dict[str, Any] = {"type": t, "description": desc if k == 0 else ""}
        if variant:
            entry["variant"] = variant
        out.append(entry)
    return out


_KNOWN_TYPES = frozenset("nil boolean bool number integer int float string table function "
                         "userdata thread any mixed void object array".split())


def _parse_items(lines: list[str]) -> list[tuple[int, str]]:
    """Bullet items of a list block as ``(indent, text)`` with continuation lines joined."""
    items: list[tuple[int, str]] = []
    for line in lines:
        m = _LIST_ITEM_RE.match(line)
        if m:
            items.append((len(m.group("indent").expandtabs(4)), m.group("body") or ""))
        elif items and line.strip():
            indent, text = items[-1]
            items[-1] = (indent, text + "\n" + line.strip())
    return items


def _table_rows(lines: list[str]) -> list[dict[str, str]]:
    rows = [ln.strip().strip("|").split("|") for ln in lines if ln.strip().startswith("|")]
    if len(rows) < 2:
        return []
    header = [c.strip().strip("*_`").lower() for c in rows[0]]
    body = [r for r in rows[1:] if not re.match(r"^[\s:|-]+$", "|".join(r))]
    return [dict(zip(header, (c.strip() for c in row))) for row in body]


_PARAM_COLUMNS = ("name", "parameter", "param", "argument", "arg", "variable", "parameters",
                  "arguments")
_KEY_COLUMNS = ("key", "field", "option", "property")


def _split_row(line: str) -> list[str]:
    """The cells of a table row; ``\\|`` inside a cell is not a separator."""
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [c.replace("\\|", "|") for c in re.split(r"(?<!\\)\|", body)]


def _table_header(table: list[str]) -> list[str]:
    return [c.strip().strip("*_`").lower() for c in table[0].strip().strip("|").split("|")] \
        if table else []


def _param_table(table: list[str]) -> bool:
    """A markdown table whose header names parameters (``| Name | Type | Description |``)."""
    header = _table_header(table)
    return any(h in _PARAM_COLUMNS for h in header) and any(
        h in ("type", "types", "description", "desc") for h in header)


def _key_table(table: list[str]) -> list[dict[str, Any]] | None:
    """The keys of an option table (``| Key | Type |``), or None for another table."""
    header = _table_header(table)
    if not any(h in _KEY_COLUMNS for h in header) or any(h in _PARAM_COLUMNS for h in header):
        return None
    out = []
    for row in _table_rows(table):
        key = next((row[k] for k in _KEY_COLUMNS if row.get(k)), None)
        if not key:
            continue
        entry: dict[str, Any] = {"name": key.strip("`*_ ")}
        ptype = next((row[k] for k in ("type", "types") if row.get(k)), None)
        if ptype:
            entry["type"] = ptype.replace("`", "").strip()
        desc = next((row[k] for k in ("description", "desc", "meaning") if row.get(k)), None)
        if desc:
            entry["description"] = desc
        out.append(entry)
    return out


_PARA_PARAM_RE = re.compile(rf"^`(?:{IDENT}|\.\.\.)`\s+[a-z]")  # "`source` is the path"
_DEF_TERM_RE = re.compile(rf"^\s*`(?:\.\.\.|{IDENT})\??`\s*$")
_DEF_DESC_RE = re.compile(r"^\s{0,3}:\s+(?P<text>.*)$")


def _definition_params(block: list[str]) -> list[dict[str, Any]]:
    """A definition list of parameters (pandoc's style): `` `name` `` then ``:   text (type)``."""
    out: list[dict[str, Any]] = []
    term: str | None = None
    for line in block:
        if _DEF_TERM_RE.match(line):
            term = line.strip().strip("`")
            out.append({"name": term.rstrip("?"), "type": None, "description": "",
                        "optional": term.endswith("?")})
            continue
        d = _DEF_DESC_RE.match(line)
        text = d.group("text") if d else line.strip()
        if out and text:
            out[-1]["description"] = (out[-1]["description"] + " " + text).strip()
    for p in out:
        m = re.search(r"\s*\(([^()]+)\)\s*$", p["description"])
        if m and re.fullmatch(r"[\w.|\[\] ,`]+", m.group(1)):
            ptype = m.group(1).replace("`", "").strip()
            if "optional" in ptype:
                p["optional"] = True
                ptype = re.sub(r",?\s*optional", "", ptype).strip() or None
            p["type"] = ptype
            p["description"] = p["description"][: m.start()].strip()
    return out


_NAV_LINE_RE = re.compile(r"^[\s*_]*(?:\[[^\]]*\]\(#[^)]*\)|\[\[[^\]]*\]\]\(#[^)]*\)|[|\s])+[\s*_]*$")
_INTERNAL_LINK_RE = re.compile(r"\[([^\]]+)\]\(#[^)]*\)")
_HTML_TAG_RE = re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>")
_STYLE_RE = re.compile(r"<(style|script)\b[^>]*>.*?</\1>", re.IGNORECASE | re.DOTALL)
_MAX_TABLE_ROWS = 12
_RULE_LINE_RE = re.compile(r"^[\s>]*-{3,}[\s-]*$")


def _description_lines(lines: list[str], name: str) -> list[str]:
    """The description's lines as text worth training on: no signature line, no navigation
    links (`[Back to TOC](#toc)`), internal links as their text, no HTML tags, no large tables
    (a table of 1,000 icons is not a description; small ones stay)."""
    out: list[str] = []
    table: list[str] = []

    def flush_table() -> None:
        if 0 < len(table) <= _MAX_TABLE_ROWS + 2:
            out.extend(table)
        table.clear()

    for line in lines:
        if line.lstrip().startswith("|"):
            table.append(line)
            continue
        flush_table()
        if "---" in line and _RULE_LINE_RE.match(line):
            continue  # a pandoc table's rule
        if line.lstrip()[:1] == "`" and _is_signature_span(line, name):
            continue
        if "<" in line:
            line = _STYLE_RE.sub("", line)
            line = _HTML_TAG_RE.sub(" ", line).replace("&nbsp;", " ")
            line = re.sub(r"\[\s*\]\([^)]*\)\s*", "", line)  # an icon link, now empty
            if not line.strip():
                continue
        if "](#" in line:
            if _NAV_LINE_RE.match(line):
                continue
            line = _INTERNAL_LINK_RE.sub(r"\1", line)
        out.append(line)
    flush_table()
    return out


_PARAM_HEADING_RE = re.compile(
    rf"^`?(?P<name>{IDENT}|\.\.\.)`?\s*(?:~?\^?\(\s*(?P<flag>optional|required)\s*\)\^?~?)?"
    r"(?:\s*:\s*(?P<type>[^:].*?))?\s*$", re.IGNORECASE)
_LEADING_TYPE_RE = re.compile(
    r"^[_*]*(?:\[(?P<a>[^\]]+)\](?:\[[^\]]*\]|\([^)]*\))|`(?P<b>[^`]+)`)[_*]*\.?[_*]*\s*")


def _fill_heading_param(param: dict[str, Any], block: list[str]) -> None:
    """A parameter's text under its own heading: ``_[Number][api.type.Number]._ The width.``"""
    text = " ".join(ln.strip() for ln in block if ln.strip())
    m = _LEADING_TYPE_RE.match(text)
    if m:
        param["type"] = (m.group("a") or m.group("b")).strip()
        text = text[m.end():]
    param["description"] = (param["description"] + " " + text).strip()


def _is_signature_span(line: str, name: str) -> bool:
    """A line that is only the entry's signature in a code span (`` `delete (filepath)` ``)."""
    m = re.fullmatch(r"\s*`([^`]+)`\s*", line)
    if not m:
        return False
    sig = parse_signature(m.group(1), allow_spaced_bare=True)
    return sig is not None and last_segment(sig.name) == last_segment(name)


def _paragraphs(lines: list[str]) -> str:
    paras: list[str] = []
    current: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped:
            if current:
                paras.append(" ".join(current))
                current = []
            continue
        if _LIST_ITEM_RE.match(line):
            if current:
                paras.append(" ".join(current))
            current = [stripped]
            continue
        current.append(stripped)
    if current:
        paras.append(" ".join(current))
    return "\n\n".join(p for p in paras if p)


# ------------------------------------------------------------------------------------------------
# Extraction
# ------------------------------------------------------------------------------------------------


@dataclass
class Entry:
    """An API entry found in a document (a record, a directive to reject, or a duplicate)."""

    record: dict[str, Any]
    reject: str | None = None


@dataclass
class Document:
    entries: list[Entry] = field(default_factory=list)
    headings: int = 0
    prose: int = 0


_SIG_LINE_RE = re.compile(
    r"^\s*(?:[*_]{0,2}(?:syntax|signature|usage|synopsis|prototype)[*_]{0,2}\s*:?\s*[*_]{0,2}\s*:?)"
    r"\s*(?P<sig>.+?)\s*$", re.IGNORECASE)


def _signature_lines(body: list[str], fences: dict[int, Fence], offset: int, limit: int = 14
                     ) -> Iterator[tuple[str, str, int]]:
    """Candidate signature texts near the top of a section: ``(kind, text, line index)`` where
    kind is ``syntax`` (a labelled syntax line), ``code`` (a line that is one code span, or
    the first line of a fenced block) or ``plain``."""
    seen = 0
    i = 0
    while i < len(body) and seen < limit:
        line = body[i]
        idx = offset + i
        if idx in fences:
            fence = fences[idx]
            first = next((ln for ln in fence.code.split("\n") if ln.strip()), "")
            if first.rstrip().endswith("(") and len(fence.code) < 600:
                # `function Fusion.scoped<T>(` / `constructors: T` / `): Scope<T>`
                first = " ".join(ln.strip() for ln in fence.code.split("\n") if ln.strip())
                first = first.replace("( ", "(").replace(" )", ")")
            if first:
                yield "code", first, idx
            i += fence.end - fence.start
            seen += 1
            continue
        if not line.strip():
            i += 1
            continue
        seen += 1
        inline = _SYNTAX_INLINE_RE.match(line)
        if inline:
            yield "syntax", inline.group("sig"), idx
        else:
            label = match_label(line)
            if label and label[0] == "syntax" and label[1]:
                yield "syntax", _strip_emphasis(label[1]), idx
            elif re.match(r"^\s*`[^`]+`\s*$", line):
                yield "code", line.strip().strip("`"), idx
            elif line.lstrip().startswith("|") and (row := _SIG_ROW_RE.match(line)):
                yield "syntax", row.group("sig"), idx  # `| **Signature** | `hs.x.f(a)` |`
            elif _ATX_RE.match(line):
                return
            else:
                yield "plain", line.strip(), idx
        i += 1


_SIG_ROW_RE = re.compile(r"^\s*\|\s*[*_]*(?:signature|syntax|declaration|usage)[*_]*\s*\|\s*`(?P<sig>[^`]+)`",
                         re.IGNORECASE)
_DESC_ROW_RE = re.compile(r"^\s*\|\s*[*_]*description[*_]*\s*\|(?P<text>[^|]*)\|", re.IGNORECASE)
_LEADING_CALL_RE = re.compile(r"^[\w.:, ]*=?\s*([\w.:]+)\s*\(")


def _calls_segment(text: str, segment: str) -> bool:
    """``text`` opens with a call (after an optional assignment) of a name ending in
    ``segment``."""
    m = _LEADING_CALL_RE.match(text)
    return bool(m) and last_segment(m.group(1)) == segment


def _directive_like(text: str, name: str) -> bool:
    """``lua_code_cache on | off``, ``content_by_lua_block { ... }``: an nginx directive."""
    text = _strip_emphasis(_clean_inline(text)).strip("`* ")
    if not text.startswith(name):
        return False
    rest = text[len(name):]
    return (not rest.strip() or rest[0].isspace() or rest.lstrip()[:1] in "{;<") \
        and "(" not in text.split()[0]


@dataclass
class _Decision:
    """What a heading opens: one entry per name (``byte(), char()`` gives two)."""

    names: list[tuple[str, Signature | None]]
    reject: str | None = None
    kind: str | None = None  # overrides "field" for a name-only entry known to be callable
    returns: list[dict[str, Any]] = field(default_factory=list)
    anchor: str | None = None  # the full name from a `{#a.b.c}` attribute
    owner_sep: str | None = None  # `:method` / `.field`: the name belongs to its section's class
    field_type: str | None = None  # `Knit.Services: [Service]`: a field and its type


# first words of prose headings that look like `name (args)`: "Example (advanced)"
_PROSE_WORDS = frozenset(
    "example examples note notes usage installation install overview summary see also returns "
    "parameters arguments options appendix changes changelog introduction setup requirements "
    "license faq tips warning caveats limitations performance errors step part chapter section "
    "method methods function functions".split())
_OWNER_HEADING_RE = re.compile(
    rf"^(?:(?:class|type|object|module|library)\s+)?(?P<name>{IDENT}(?:\.{IDENT})*)"
    r"(?:\s+(?:class|object|type|module|methods|functions|fields|api))?$", re.IGNORECASE)
_TYPE_PREFIX_RE = re.compile(r"^\[(?P<type>[^\[\]]+)\]\s+(?P<rest>[A-Za-z_].*)$")
_SPACED_SIG_RE = re.compile(rf"^{IDENT}(?:[.:]{IDENT})*\s+\([^()]*(?:\([^()]*\)[^()]*)*\)\s*$")
_MODULE_HEADING_RE = re.compile(
    rf"^(?:module|library|package|namespace)\s+(?P<name>{IDENT}(?:\.{IDENT})*)\s*$", re.IGNORECASE)
_DEPRECATED_SECTION_RE = re.compile(r"^\W*deprecated\b|\bdeprecated\W*$", re.IGNORECASE)
_ANCHOR_ATTR_RE = re.compile(r"\{#(?P<id>[^}\s]+)[^}]*\}\s*$")
_STD_LIBS = frozenset("string table math os io coroutine debug utf8 package bit bit32 jit ffi "
                      "_G self".split())


def _split_top(text: str) -> list[str]:
    return split_outside_brackets(text, ",", "([{")  # '<' is prose here ("a < b")


def _prose_parens(text: str) -> bool:
    """``Debug (Logging)`` / ``ETime (Time Functions)``: a title with a gloss in parentheses
    after a space, the words capitalised prose, not parameter names."""
    m = re.match(rf"^\s*{IDENT}(?:[.:]{IDENT})*\s+\((?P<inner>[^()]*)\)\s*$", text)
    if not m:
        return False
    words = m.group("inner").replace(",", " ").split()
    return bool(words) and all(re.fullmatch(r"[A-Z][a-z]+", w) for w in words)


def _several_signatures(text: str) -> list[Signature] | None:
    """``byte(), char(), short()``: several signatures written in one heading."""
    if ")," not in text.replace(" ", ""):
        return None
    parts = _split_top(text)
    if len(parts) < 2:
        return None
    sigs = [parse_signature(p) for p in parts]
    if all(sig is not None and _is_api_name(sig.name) for sig in sigs):
        return sigs  # type: ignore[return-value]
    return None


def _fenced_signatures(body: list[str], fences: dict[int, Fence], offset: int
                       ) -> list[Signature]:
    """The signatures a prose heading's first code block states, when the block (right under
    the heading) is nothing but signatures of qualified names with parameter names, not values:
    ``local t = tween.new(duration, subject, target, [easing])``; example code is not."""
    seen = 0
    found: list[Signature] = []
    for i, line in enumerate(body):
        fence = fences.get(offset + i)
        if fence is None:
            if line.strip():
                seen += 1
                if seen > 2 and not found:
                    return []
            continue
        if fence.lang not in ("lua", "luajit", ""):
            continue
        code = [ln for ln in fence.code.split("\n") if ln.strip() and not ln.strip().startswith("--")]
        sigs = []
        for ln in code[:13]:
            sig = parse_signature(ln.strip())
            if sig is None or not ("." in sig.name or ":" in sig.name) or not sig.params and \
                    not ln.strip().endswith("()") or any(p.get("literal") for p in sig.params):
                sigs = []
                break
            sigs.append(sig)
        if not sigs and not found:
            return []  # the first block is example code: a prose section
        found.extend(s for s in sigs if s.name not in {f.name for f in found})
    return found


def _section_calls(name: str, body: list[str], fences: dict[int, Fence], offset: int) -> bool:
    """The code of a section calls ``name`` itself (``Popup({...})`` under ``# Popup``)."""
    call = re.compile(rf"(?<![\w.:]){re.escape(name)}\s*[({{\"']")
    for i in range(len(body)):
        fence = fences.get(offset + i)
        if fence is not None and fence.lang in ("lua", "luajit", "") and call.search(fence.code):
            code = fence.code
            if not re.search(rf"function\s+{re.escape(name)}\s*\(", code):
                return True
    return False


def _qualify_from_examples(entries: list[Entry], *, title: str | None = None,
                           loaded: str | None = None) -> None:
    """Bare names (``### clear (t)``) qualified with the module table the document's own
    examples call them on (``M.clear({1, 2})`` -> ``M.clear``), when one table dominates; or with
    a table other entries of the document are named under (``torch.isTensor(x)`` where
    ``torch.Tensor`` is documented); on a page titled with a class name (``# Tensor``), a bare
    name its examples call as a method (``x:narrow(1, 2)``) is ``Tensor:narrow``."""
    bare = [e for e in entries if e.reject is None and "." not in e.record["name"]
            and ":" not in e.record["name"] and e.record["examples"]]
    if len(bare) < 2:
        return
    _qualify_dominant(bare, entries)
    roots = {re.split(r"[.:]", e.record["name"])[0] for e in entries
             if "." in e.record["name"] or ":" in e.record["name"]}
    klass = title if title and re.fullmatch(r"[A-Z][A-Za-z0-9_]*", title) else None
    for e in bare:
        name = e.record["name"]
        if "." in name or ":" in name:
            continue
        code = "\n".join(e.record["examples"])
        calls = {m.group(1) for m in re.finditer(
            rf"(?<![\w.:])({IDENT})\.{re.escape(name)}\s*\(", code)} - _STD_LIBS
        if klass and re.search(rf"[\w\])]:{re.escape(name)}\s*[({{\"']", code):
            _rename(e.record, f"{klass}:{name}")
            if e.record["kind"] == "function":
                e.record["kind"] = "method"
        elif not klass and len(calls) == 1 and (next(iter(calls)) in roots or re.search(
                rf"(?<![\w.]){next(iter(calls))}\s*=\s*require\b", code)
                or next(iter(calls)) == loaded):
            # `cache = require "lapis.cache"` then `cache.delete {...}` in the entry's example
            _rename(e.record, f"{next(iter(calls))}.{name}")
        elif loaded and re.search(rf"(?<![\w.:]){re.escape(loaded.lower())}\w*:{re.escape(name)}\s*[({{\"']",
                                  code, re.IGNORECASE):
            # the page loads `local Signal = require(...)`; `signal:Fire(...)` in the example
            _rename(e.record, f"{loaded}:{name}")
            if e.record["kind"] == "function":
                e.record["kind"] = "method"
    # a second entry of a name qualified above (`[LongStorage] size()` after `size(dim)`)
    qualified: dict[str, set[str]] = {}
    for e in bare:
        n = e.record["name"]
        if "." in n or ":" in n:
            qualified.setdefault(last_segment(n), set()).add(n)
    for e in entries:
        n = e.record["name"]
        if e.reject is None and "." not in n and ":" not in n and len(qualified.get(n, ())) == 1:
            new = next(iter(qualified[n]))
            _rename(e.record, new)
            if ":" in new and e.record["kind"] == "function":
                e.record["kind"] = "method"


def _rename(record: dict[str, Any], new: str) -> None:
    old = record["name"]
    record["name"] = new
    record["signature"] = new + record["signature"][len(old):] \
        if record["signature"].startswith(old) else new
    if record.get("signatures"):
        record["signatures"] = [new + x[len(old):] if x.startswith(old) else x
                                for x in record["signatures"]]


def _qualify_from_require(entries: list[Entry], title: str, fences: dict[int, Fence]) -> None:
    """A page titled with its module (``# json.lua``) whose code loads it into a local
    (``local json = require("json")``): its bare functions are that local's (``json.encode``)."""
    module = re.sub(r"\.lua$", "", title.strip().split()[0] if title.strip() else "")
    if not re.fullmatch(rf"{IDENT}(?:[.\-]{IDENT})*", module):
        return
    bare = [e for e in entries if e.reject is None and e.record["kind"] == "function"
            and "." not in e.record["name"] and ":" not in e.record["name"]]
    if len(bare) < 2:
        return
    aliases = set()
    for fence in fences.values():
        for m in re.finditer(rf"local\s+({IDENT})\s*=\s*require\s*\(?\s*[\"']([\w.\-]+)[\"']",
                             fence.code):
            if m.group(2) == module or m.group(2).rsplit(".", 1)[-1] == module:
                aliases.add(m.group(1))
    if len(aliases) == 1:
        alias = next(iter(aliases))
        for e in bare:
            if e.record["name"] != alias:
                _rename(e.record, f"{alias}.{e.record['name']}")


def _qualify_dominant(bare: list[Entry], others: list[Entry]) -> None:
    found: dict[int, set[str]] = {}
    counts: dict[str, int] = {}
    for k, e in enumerate(bare):
        name = e.record["name"]
        pat = re.compile(rf"(?<![\w.:])({IDENT}(?:\.{IDENT})*)\.{re.escape(name)}\s*[({{\"']")
        prefixes = {m.group(1) for code in e.record["examples"] for m in pat.finditer(code)}
        prefixes -= _STD_LIBS
        found[k] = prefixes
        for p in prefixes:
            counts[p] = counts.get(p, 0) + 1
    if not counts:
        return
    top, n = max(counts.items(), key=lambda kv: kv[1])
    if n < 2 or n * 2 < len(bare):
        return
    for k, e in enumerate(bare):
        if top in found[k]:
            _rename(e.record, f"{top}.{e.record['name']}")
    # the document's module table: the other bare functions of the document belong to it too
    # (`### containsKeys (t, other)` whose example happens to call `M.contains`)
    rest = [e for e in others if e.reject is None and e.record["kind"] == "function"
            and "." not in e.record["name"] and ":" not in e.record["name"]]
    qualified = sum(1 for e in others if e.record["name"].startswith(top + "."))
    if rest and qualified >= 4 * len(rest):
        for e in rest:
            _rename(e.record, f"{top}.{e.record['name']}")


class _Extractor:
    def __init__(self, *, heading_level: int | None, roots: list[str], method_forms: str,
                 source_name: str) -> None:
        self.heading_level = heading_level
        self.roots = roots
        self.method_forms = method_forms
        self.source_name = source_name

    def _qualify(self, name: str) -> str:
        if self.roots and "." not in name and ":" not in name:
            return f"{self.roots[0]}.{name}"
        return name

    def extract(self, text: str, *, line_offset: int = 0, prepared: list[str] | None = None
                ) -> Document:
        lines = prepared if prepared is not None else prepare_lines(text)
        self._alias_cache: dict[int, str | None] = {}
        headings, fences = scan_structure(lines)
        doc = Document(headings=len(headings))
        # `### clear (t)`: a space before the parenthesis is a signature where the document
        # writes its entries that way (three or more such headings at one level), not in a
        # lone "Example (advanced)"
        shapes: dict[int, int] = {}
        for h in headings:
            raw = _TYPE_PREFIX_RE.sub(r"\g<rest>", _clean_inline(h.text).replace("`", ""))
            if _SPACED_SIG_RE.match(raw) and not _prose_parens(raw):
                shapes[h.level] = shapes.get(h.level, 0) + 1
        self._spaced_levels = {level for level, n in shapes.items() if n >= 3}
        api_at: dict[int, _Decision] = {}
        for h in headings:
            decision = self._classify(h, headings, lines, fences)
            if decision is None:
                doc.prose += 1
            else:
                api_at[h.line] = decision
        section_stack: list[Heading] = []
        for k, h in enumerate(headings):
            while section_stack and section_stack[-1].level >= h.level:
                section_stack.pop()
            if h.line not in api_at:
                if not _is_label_heading(h.text):
                    section_stack.append(h)
                continue
            end = len(lines)
            for nxt in headings[k + 1:]:
                if nxt.line in api_at or (nxt.level <= h.level):
                    end = nxt.line
                    break
            decision = api_at[h.line]
            section_heading = next((s for s in reversed(section_stack)), None)
            section = _clean_inline(section_heading.text).replace("`", "") if section_heading else None
            module = next((m.group("name") for m in (_MODULE_HEADING_RE.match(
                _clean_inline(s.text).replace("`", "")) for s in reversed(section_stack)) if m), None)
            section_deprecated = any(_DEPRECATED_SECTION_RE.search(_clean_inline(s.text))
                                     for s in section_stack)
            owner = None
            if decision.owner_sep:
                for sh in reversed(section_stack):
                    om = _OWNER_HEADING_RE.match(_clean_inline(sh.text).replace("`", "").strip())
                    if om and om.group("name").lower() not in _PROSE_WORDS:
                        owner = om.group("name")
                        break
            alias = None
            if section_heading is not None and not module and not owner:
                alias = self._section_alias(section_heading, headings, api_at, lines, fences)
            for n, (name, sig) in enumerate(decision.names):
                if alias and "." not in name and ":" not in name and decision.anchor is None:
                    # `util = require "lapis.util"` opens the section: `unescape` is `util.unescape`
                    old = name
                    name = f"{alias}.{name}"
                    if sig is not None:
                        sig = Signature(name, name + sig.text[len(old):], sig.params, sig.has_call,
                                        sig.returns)
                elif owner and "." not in name and ":" not in name:
                    name = f"{owner}{decision.owner_sep}{name}"
                    if sig is not None:
                        sig = Signature(name, name + sig.text[len(sig.name):], sig.params,
                                        sig.has_call, sig.returns)
                elif module and "." not in name and ":" not in name and decision.anchor is None:
                    name = f"{module}.{name}"
                if decision.anchor and n == 0:
                    name = decision.anchor
                record = self._record(h, name, sig, lines, fences, h.end, end, section)
                if decision.kind and record["kind"] == "field":
                    record["kind"] = decision.kind
                if decision.returns and not record["returns"]:
                    record["returns"] = [dict(r) for r in decision.returns]
                if decision.field_type and record["kind"] == "field" and not record.get("type"):
                    record["type"] = decision.field_type
                if section_deprecated:
                    record["deprecated"] = True
                record["source"]["line"] += line_offset
                doc.entries.append(Entry(record, decision.reject))
        if self.heading_level is None:
            callable_at = {line for line, d in api_at.items()
                           if any(sig is not None and sig.has_call for _, sig in d.names)}
            self._list_entries(doc, lines, headings, fences, callable_at, line_offset)
        title = next((_clean_inline(h.text).replace("`", "").strip() for h in headings
                      if h.level == 1), None)
        first_heading = headings[0].line if headings else len(lines)
        preamble = [f for f in fences.values() if f.start < first_heading]
        loaded = next((m.group(1) for f in preamble for m in re.finditer(
            rf"^\s*local\s+({IDENT})\s*=\s*require\b", f.code, re.MULTILINE)), None)
        _qualify_from_examples(doc.entries, title=title, loaded=loaded)
        if title:
            _qualify_from_require(doc.entries, title, fences)
            self._callable_module(doc, title, headings, lines, fences, line_offset)
        if not doc.entries and line_offset == 0 and title is None:
            self._page_named_by_file(doc, lines, headings, fences)
        return doc

    def _page_named_by_file(self, doc: Document, lines: list[str], headings: list[Heading],
                            fences: dict[int, Fence]) -> None:
        """A page with no title whose file names the function (``os.copyfile.md``: a line of
        text, then ```` ```lua ok, err = os.copyfile("source", "destination") ``` ````, then
        ``### Parameters ###``...): one record named by the file, its signature the call in
        the page's first code block."""
        stem = Path(self.source_name).name
        stem = re.sub(r"\.(?:md|markdown|mdown|mkd|mdx)$", "", stem, flags=re.IGNORECASE)
        if not _is_api_name(stem) or stem in _LUA_KEYWORDS:
            return
        first_heading = next((h.line for h in headings if not _is_label_heading(h.text)), len(lines))
        blocks = 0
        i = 0
        call = re.compile(rf"^(?:local\s+)?(?:[\w?]+\s*,\s*)*(?:[\w?]+\s*=\s*)?{re.escape(stem)}"
                          r"\s*[({\"']")
        while i < min(len(lines), first_heading) and blocks < 4:
            fence = fences.get(i)
            if fence is None:
                if lines[i].strip() and (i == 0 or not lines[i - 1].strip()):
                    blocks += 1  # a paragraph
                i += 1
                continue
            blocks += 1
            if fence.lang not in ("lua", "luajit", ""):
                i = fence.end
                continue
            text = next((ln.strip() for ln in fence.code.split("\n") if call.match(ln.strip())), None)
            if text is None:
                return  # the first Lua block calls something else: not this function's page
            sig = parse_signature(text, allow_spaced_bare=True)
            if sig is None or sig.name != stem:
                rest = text[call.match(text).end() - 1:].strip()
                sig = Signature(stem, f"{stem} {rest}", [], has_call=True)
            else:  # `os.isfile("path")`: a quoted name stands for the parameter
                sig.params = [{"name": p["name"].strip("\"'"), "type": "string", "optional": False}
                              if p.get("literal") and re.fullmatch(rf"[\"']{IDENT}[\"']", p["name"])
                              else p for p in sig.params]
                sig.text = f"{stem}({', '.join(p['name'] for p in sig.params)})"
            h = Heading(1, stem, 0, 0)
            record = self._record(h, stem, sig, lines, fences, 0, len(lines), None)
            doc.entries.append(Entry(record))
            return

    def _section_alias(self, section: Heading, headings: list[Heading], api_at: dict[int, Any],
                       lines: list[str], fences: dict[int, Fence]) -> str | None:
        """The local a section loads its module into, when the section opens (before its first
        entry) with a code block that is only that: ``util = require "lapis.util"``."""
        cache = self._alias_cache
        if section.line in cache:
            return cache[section.line]
        first = next((h.line for h in headings if h.line > section.line
                      and (h.line in api_at or h.level <= section.level)), len(lines))
        alias = None
        for i in range(section.end, first):
            fence = fences.get(i)
            if fence is None or fence.lang not in ("lua", "luajit", "moon", "moonscript", ""):
                continue
            code = [ln.strip() for ln in fence.code.split("\n")
                    if ln.strip() and not ln.strip().startswith("--")]
            m = re.fullmatch(rf"(?:local\s+)?({IDENT})\s*=\s*require\s*\(?\s*[\"'][\w.\-/]+[\"']\s*\)?;?",
                             code[0]) if len(code) == 1 else None
            if m:
                alias = m.group(1)
        cache[section.line] = alias
        return alias

    def _list_entries(self, doc: Document, lines: list[str], headings: list[Heading],
                      fences: dict[int, Fence], api_lines: set[int], line_offset: int) -> None:
        """References written as bullet lists, outside any API heading's section:
        ``- `utf8.len(s [, i])`: the number of characters`` (three or more such items)."""
        inside: list[bool] = [False] * len(lines)
        for k, h in enumerate(headings):
            if h.line in api_lines:
                end = next((x.line for x in headings[k + 1:] if x.level <= h.level
                            or x.line in api_lines), len(lines))
                for j in range(h.line, end):
                    inside[j] = True
        for f in fences.values():
            for j in range(f.start, min(f.end, len(lines))):
                inside[j] = True
        found: list[tuple[int, Signature, str]] = []
        labelled: list[tuple[int, Signature, str]] = []
        for i, line in enumerate(lines):
            if inside[i]:
                continue
            if line.lstrip()[:1] == "|":  # `| **Signature** | `hs.alert.show(str)` |`
                row = _SIG_ROW_RE.match(line)
                sig = parse_signature(row.group("sig")) if row else None
                if sig is not None and _is_api_name(sig.name):
                    desc = ""
                    for j in range(i + 1, min(i + 8, len(lines))):
                        if not lines[j].lstrip().startswith("|"):
                            break
                        d = _DESC_ROW_RE.match(lines[j])
                        if d:
                            desc = d.group("text").strip()
                    labelled.append((i, sig, desc))
                continue
            lone = _LONE_SIG_RE.match(line) if line.lstrip()[:1] in "`*_" else None
            if lone and (lone.group("b") or lone.group("c")):
                # a paragraph that is only a signature: `**utf8x.len(s)**` / `` `m.f(x)` ``
                sig = parse_signature(lone.group("sig"))
                if sig is not None and ("." in sig.name or ":" in sig.name) \
                        and _is_api_name(sig.name) and not any(p.get("literal") for p in sig.params):
                    desc = []
                    j = i + 1
                    while j < len(lines) and not lines[j].strip():
                        j += 1
                    while j < len(lines) and lines[j].strip() and not inside[j] \
                            and not _LONE_SIG_RE.match(lines[j]) and not _ATX_RE.match(lines[j]):
                        desc.append(lines[j].strip())
                        j += 1
                    found.append((i, sig, " ".join(desc)))
                    continue
            if line.lstrip()[:1] not in "-*+":
                continue
            m = _LIST_SIG_RE.match(line)
            if not m:
                continue
            sig = parse_signature(m.group("sig"))
            if sig is None or not _is_api_name(sig.name) or sig.name in _LUA_GLOBALS \
                    or any(p.get("literal") for p in sig.params):
                continue
            rest = m.group("rest")
            # the item's nested bullets and continuation lines describe it
            indent = len(line) - len(line.lstrip())
            sub: list[str] = []
            j = i + 1
            while j < len(lines):
                nxt = lines[j]
                if not nxt.strip():
                    k = j + 1
                    while k < len(lines) and not lines[k].strip():
                        k += 1
                    if k >= len(lines) or len(lines[k]) - len(lines[k].lstrip()) <= indent:
                        break
                    j = k
                    continue
                if len(nxt) - len(nxt.lstrip()) <= indent or inside[j]:
                    break
                text = nxt.strip()
                if _LIST_ITEM_RE.match(nxt) or not sub:
                    sub.append(re.sub(r"^(?:[-*+]|\d{1,9}[.)])\s+", "", text))
                else:
                    sub[-1] += " " + text
                j += 1
            if sub:
                rest = (rest.strip() + "\n" if rest.strip() else "") + "\n".join(sub)
            found.append((i, sig, rest))
        if len(found) < 3:
            found = []
        known = {e.record["name"] for e in doc.entries}
        for i, sig, rest in labelled + found:
            if sig.name in known:
                continue
            known.add(sig.name)
            desc = re.sub(r"^\s*(?:[:\-—–]\s*)?", "", rest).strip()
            record = {"name": self._qualify(sig.name), "kind": sig.kind, "signature": sig.text,
                      "params": _merge_params(sig.params, []), "returns": list(sig.returns),
                      "description": _clean_inline(desc), "examples": [], "deprecated":
                      bool(_DEPRECATED_TEXT_RE.search(desc)),
                      "source": {"file": self.source_name, "line": i + 1 + line_offset}}
            doc.entries.append(Entry(record))
        self._table_entries(doc, lines, inside, headings, line_offset)

    def _table_entries(self, doc: Document, lines: list[str], inside: list[bool],
                       headings: list[Heading], line_offset: int) -> None:
        """Tables whose cells are signatures (``| `pb.load(data)` | boolean | load ... |``),
        three or more in one table, outside API sections: a record for each (a name in
        several rows keeps each signature); a name whose first part is the last part of the
        module its section names (``### `pb.io` Module`` over `` `io.read()` ``) takes the
        module's full name."""
        known = {e.record["name"] for e in doc.entries}
        i = 0
        n = len(lines)
        while i < n:
            if inside[i] or not lines[i].lstrip().startswith("|"):
                i += 1
                continue
            j = i
            while j < n and lines[j].lstrip().startswith("|") and not inside[j]:
                j += 1
            table = lines[i:j]
            start = i
            i = j
            if len(table) < 3:
                continue
            header = _table_header(table)
            cells_found: list[tuple[int, int, Signature, list[str]]] = []
            for k, row_line in enumerate(table[1:], 1):
                if re.match(r"^[\s|:-]+$", row_line):
                    continue
                cells = _split_row(row_line)
                for c, cell in enumerate(cells):
                    m = re.fullmatch(r"\s*`([^`]+)`\s*", cell)
                    if not m or not m.group(1).rstrip().endswith(")"):
                        continue
                    sig = parse_signature(m.group(1))
                    if sig is None or not _is_api_name(sig.name) or sig.name in _LUA_GLOBALS \
                            or any(p.get("literal") for p in sig.params):
                        continue
                    cells_found.append((start + k, c, sig, cells))
            if len(cells_found) < 3:
                continue
            if not any(h.startswith(("function", "method", "api", "signature", "syntax", "call",
                                     "interface", "name", "usage", "encode", "decode"))
                       for h in header) and not all("." in sig.name or ":" in sig.name
                                                    for _, _, sig, _ in cells_found):
                continue  # `| register_commands(cli) | ... |` under a "hook" column: not a reference
            module = None
            above = [h for h in headings if h.line < start]
            if above:
                mm = re.fullmatch(rf"(?:(?:module|library)\s+)?(?P<m>{IDENT}(?:\.{IDENT})+)"
                                  r"(?:\s+(?:module|library))?",
                                  _clean_inline(above[-1].text).replace("`", "").strip(), re.IGNORECASE)
                module = mm.group("m") if mm else None
            desc_col = next((c for c, h in enumerate(header) if h.startswith("desc")), None)
            ret_col = next((c for c, h in enumerate(header) if h.startswith("return")), None)
            for line_no, c, sig, cells in cells_found:
                name = sig.name
                root = re.split(r"[.:]", name)[0]
                if module and root == module.rsplit(".", 1)[-1] and name != module \
                        and not name.startswith(module + "."):
                    name = module.rsplit(".", 1)[0] + "." + name
                desc = cells[desc_col].strip() if desc_col is not None and desc_col < len(cells) \
                    and desc_col != c else ""
                returns = list(sig.returns)
                rcell = cells[ret_col].strip().strip("`") if ret_col is not None \
                    and ret_col < len(cells) else ""
                if not returns and re.fullmatch(r"[\w.|]+(?:\s*,\s*[\w.|]+)*", rcell) \
                        and rcell.lower() not in ("none", "nothing", "nil", "void"):
                    returns = [{"type": t.strip(), "description": ""} for t in rcell.split(",")]
                record = {"name": self._qualify(name), "kind": sig.kind,
                          "signature": name + sig.text[len(sig.name):],
                          "params": _merge_params(sig.params, []), "returns": returns,
                          "description": _clean_inline(desc), "examples": [],
                          "deprecated": bool(_DEPRECATED_TEXT_RE.search(desc)),
                          "source": {"file": self.source_name, "line": line_no + 1 + line_offset}}
                if record["name"] in known and not any(
                        e.record["name"] == record["name"] and e.record["source"]["line"] > start
                        for e in doc.entries):
                    continue  # documented by its own section elsewhere
                doc.entries.append(Entry(record))

    def _callable_module(self, doc: Document, title: str, headings: list[Heading],
                         lines: list[str], fences: dict[int, Fence], line_offset: int) -> None:
        """``# inspect.lua`` whose code does ``local inspect = require('inspect')`` and then
        ``inspect(t)``: the module is itself a function, and a record."""
        module = re.sub(r"\.lua$", "", title.strip())
        if not re.fullmatch(IDENT, module) or any(e.record["name"] == module for e in doc.entries):
            return
        code = "\n".join(f.code for f in fences.values() if f.lang in ("lua", "luajit", ""))
        if not re.search(rf"local\s+{module}\s*=\s*require\s*\(?\s*[\"'](?:[\w.]+\.)?{module}[\"']",
                         code):
            return
        calls = [m.group(0) for m in re.finditer(rf"(?<![\w.:]){module}\s*\([^()\n]*\)", code)]
        if not calls:
            return
        sig = next((s for s in (parse_signature(c) for c in calls)
                    if s is not None and s.params and not any(p.get("literal") for p in s.params)),
                   None)
        h = next(x for x in headings if x.level == 1)
        end = next((x.line for x in headings if x.line > h.line), len(lines))
        desc = _paragraphs(_description_lines([ln for ln in lines[h.end:end]], module)).split("\n\n")
        examples = [f.code.rstrip() + "\n" for f in fences.values()
                    if re.search(rf"(?<![\w.:]){module}\s*\(", f.code)][:3]
        record = {"name": module, "kind": "function",
                  "signature": sig.text if sig is not None else f"{module}(...)",
                  "params": _merge_params(sig.params, []) if sig is not None else [
                      {"name": "...", "type": None, "description": "", "optional": True}],
                  "returns": [], "description": desc[0] if desc else "", "examples": examples,
                  "deprecated": False, "source": {"file": self.source_name,
                                                  "line": h.line + 1 + line_offset}}
        doc.entries.insert(0, Entry(record))

    def _classify(self, h: Heading, headings: list[Heading], lines: list[str],
                  fences: dict[int, Fence]) -> _Decision | None:
        """The API entry a heading opens (names, signatures, reject reason), None for prose."""
        if self.heading_level is not None and h.level != self.heading_level:
            return None
        anchor_m = _ANCHOR_ATTR_RE.search(h.text)
        raw = _clean_inline(h.text)
        # `### separator {#pandoc.path.separator}`: an anchor naming the entry in full
        bare = raw.replace("`", "").strip()
        anchored = anchor_m.group("id") if anchor_m and re.fullmatch(IDENT, bare) and \
            _is_api_name(anchor_m.group("id")) and anchor_m.group("id").endswith("." + bare) else None
        if not raw:
            return None
        if _is_label_heading(raw) and anchored is None and not (
                re.fullmatch(IDENT, bare) and self._label_word_entry(h, bare, headings, lines, fences)):
            return None
        rtype = None
        pm = _TYPE_PREFIX_RE.match(raw.replace("`", ""))
        if pm:  # torch7: `[Tensor] narrow(dim, index, size)`, the return type first
            rtype = pm.group("type").strip()
            raw = pm.group("rest")
        decision = self._classify_text(h, raw, headings, lines, fences, typed=rtype is not None)
        if decision is None:
            # a field the anchor names (`{#pandoc.system.os}`), documented by its text alone
            return _Decision([(bare, None)], anchor=anchored) if anchored else None
        if rtype:
            decision.returns = [{"type": rtype, "description": ""}]
        if anchor_m and len(decision.names) == 1:
            ident = anchor_m.group("id")
            name = decision.names[0][0]
            if _is_api_name(ident) and ("." in ident or ":" in ident) and ident != name \
                    and last_segment(ident) == last_segment(name) and ident.endswith(name):
                decision.anchor = ident  # `### delete {#pandoc.mediabag.delete}`
        return decision

    def _label_word_entry(self, h: Heading, word: str, headings: list[Heading], lines: list[str],
                          fences: dict[int, Fence]) -> bool:
        """A heading that is a label word (``type``, ``default``) but whose syntax line right
        below names it: ``**syntax:** *type_name = process_module.type()*``."""
        end = next((x.line for x in headings if x.line > h.line), len(lines))
        for kind, text, _idx in _signature_lines(lines[h.end:end], fences, h.end, limit=2):
            if kind in ("syntax", "code"):
                sig = parse_signature(text, allow_spaced_bare=True)
                if sig is not None and ("." in sig.name or ":" in sig.name) \
                        and last_segment(sig.name) == word:
                    return True
        return False

    def _classify_text(self, h: Heading, raw: str, headings: list[Heading], lines: list[str],
                       fences: dict[int, Fence], *, typed: bool) -> _Decision | None:
        spaced_ok = (h.level in self._spaced_levels or typed) and \
            re.split(r"[\s(]", raw.replace("`", "").strip(), maxsplit=1)[0].lower() not in _PROSE_WORDS
        lead = re.match(r"^\s*`?\s*(?P<sep>[.:])(?=[A-Za-z_])", raw)
        if lead:  # `#### :method(args)` under its class's heading
            rest = raw.replace(lead.group(0), lead.group(0)[:-1].replace(lead.group("sep"), ""), 1)
            decision = self._classify_text(h, rest, headings, lines, fences, typed=typed)
            bare = _strip_emphasis(rest.replace("`", "")).strip()
            if decision is None and re.fullmatch(IDENT, bare):
                decision = _Decision([(bare, None)])  # `#### .x`: a field of the class
            if decision is not None and len(decision.names) == 1:
                decision.owner_sep = lead.group("sep")
            return decision
        candidates = [c for c in _CODE_SPAN_RE.findall(raw)]
        spanned = bool(candidates)
        typed_span = re.match(rf"^\s*`(?P<name>{IDENT}(?:[.:]{IDENT})*)`\s+\((?P<t>[\w.|]+)\)\s*$", raw)
        if typed_span and typed_span.group("t").lower() in _KNOWN_TYPES:
            # `#### \`BSD\` (bool)`: a field and its type, not a call
            return _Decision([(self._qualify(typed_span.group("name")), None)],
                             field_type=typed_span.group("t"))
        split_call = re.match(r"^\s*`(?P<name>[^`(]+)`(?P<args>\(.*\))\s*(?P<rest>.*)$", raw)
        if split_call:  # `#### \`buffer.add_text\`(*buffer, text*)`: the name alone in the span
            candidates.insert(0, split_call.group("name").strip()
                              + split_call.group("args").replace("*", "") + split_call.group("rest"))
        candidates.append(raw.replace("`", ""))
        several = _several_signatures(raw.replace("`", ""))
        if several:  # `byte(), char(), short()`: one entry for each
            return _Decision([(self._qualify(sig.name), sig) for sig in several])
        parts = [_strip_emphasis(p.strip().strip("`")) for p in
                 re.split(r"\s*(?:&|,|/|\band\b)\s*", raw.replace("`", " ").strip())] \
            if re.search(r"[&,/]|\band\b", raw) else []
        if len(parts) > 1 and all(("." in p or ":" in p) and _is_api_name(p) for p in parts):
            return _Decision([(self._qualify(p), None) for p in parts])  # `options.newline & options.indent`
        for cand in candidates:
            sig = parse_signature(cand, allow_spaced_bare=spanned or spaced_ok)
            if sig is not None and not spanned and _prose_parens(cand):
                continue  # `## ETime (Time Functions)`: a section title, not a call
            if sig is not None and _is_api_name(sig.name):
                if len(candidates) > 1 and cand == candidates[-1] and not raw.lstrip().startswith(
                        ("`", sig.name)):
                    continue
                if spanned and not sig.returns and cand != candidates[-1]:
                    # `### \`Knit.Start()\` -> \`Promise\``: the return type after the span
                    after = re.search(rf"{re.escape(cand)}`\s*(?:->|→|=>)\s*`?(?P<t>[^`]+?)`?\s*$", raw)
                    if after:
                        sig.returns = [{"type": t, "description": ""}
                                       for t in _split_top(after.group("t")) if t]
                return _Decision([(self._qualify(sig.name), sig)])
        for cand in candidates[:-1] if spanned else [raw]:  # `a: T` inside the span only
            typed_field = _typed_field(cand, spanned)
            if typed_field:  # `### \`Knit.Services: [Service]\``: a field with its type
                return _Decision([(self._qualify(typed_field[0]), None)],
                                 field_type=typed_field[1])
        plain = _strip_emphasis(raw.replace("`", "")).strip()
        head_returns: list[dict[str, Any]] = []
        arrow_head = re.match(rf"^(?P<n>{IDENT}(?:[.:]{IDENT})*)\s*(?:->|→|=>)\s*(?P<t>\S.*)$", plain)
        if arrow_head:  # `# scoped -> Scope<T>`: a name and its return type
            plain = arrow_head.group("n")
            head_returns = [{"type": arrow_head.group("t").strip("` "), "description": ""}]
        plain = re.sub(r"\s*\(\s*\)$", "", plain)
        deprecated_mark = re.search(r"\s*\(deprecated\)\s*$", plain, re.IGNORECASE)
        if deprecated_mark:
            plain = plain[: deprecated_mark.start()]

        body_end = next((x.line for x in headings if x.line > h.line), len(lines))
        body = lines[h.end:body_end]
        if not _is_api_name(plain):
            # `## Tween creation` then ```local t = tween.new(duration, subject, target)```
            sigs = _fenced_signatures(body, fences, h.end)
            return _Decision([(self._qualify(sig.name), sig) for sig in sigs]) if sigs else None
        # a name-only heading: look for its signature line
        directive_hint = any(re.match(r"^\s*\**(?:context|default|phase)\**\s*:", ln, re.IGNORECASE)
                             for ln in body[:12])
        for kind, text, _idx in _signature_lines(body, fences, h.end):
            if kind == "plain" and not _calls_segment(text, last_segment(plain)):
                continue
            sig = parse_signature(text, allow_spaced_bare=True)
            if sig is not None and last_segment(sig.name) == last_segment(plain) and \
                    _is_api_name(sig.name):
                name = sig.name if ("." in sig.name or ":" in sig.name or "." not in plain) else plain
                return _Decision([(self._qualify(name), sig)], returns=head_returns)
            typed_field = _typed_field(text, True) if kind in ("code", "syntax") else None
            if typed_field and last_segment(typed_field[0]) == last_segment(plain):
                # `static defaultProps: Dictionary<any, any>` under `### defaultProps`
                return _Decision([(self._qualify(plain), None)], field_type=typed_field[1])
            if kind == "syntax":
                if _directive_like(text, plain) and "." not in plain and ":" not in plain:
                    return _Decision([(plain, None)], reject="nginx directive, not a Lua function")
                field_name = _field_from_syntax(text, plain)
                if field_name:
                    return _Decision([(self._qualify(field_name), Signature(
                        field_name, _clean_syntax(text), [], has_call=False))])
        if directive_hint and "." not in plain and ":" not in plain:
            return None
        if "." in plain or ":" in plain:
            return _Decision([(self._qualify(plain), None)])  # a documented field or table
        if self.heading_level is not None or typed:
            return _Decision([(self._qualify(plain), None)], kind="function" if typed else None)
        if re.fullmatch(r"\s*`[^`]+`\s*", raw) or any(
                (label := match_label(ln)) and label[0] == "type" for ln in body[:6] if ln.strip()):
            return _Decision([(self._qualify(plain), None)])  # `### \`border\``: an option
        if _section_calls(plain, body, fences, h.end):
            return _Decision([(self._qualify(plain), None)], kind="function")  # `# Popup`
        parent = next((x for x in reversed(headings) if x.line < h.line and x.level < h.level), None)
        if parent is not None and re.fullmatch(IDENT, plain) and plain.lower() not in _PROSE_WORDS \
                and ("_" in plain or plain.islower() or plain.isupper()) \
                and re.search(
                r"\b(?:variables|fields|constants|properties)\b", _clean_inline(parent.text),
                re.IGNORECASE):
            return _Decision([(self._qualify(plain), None)])  # `_VERSION` under "API (Variables)"
        return None

    def _record(self, h: Heading, name: str, sig: Signature | None, lines: list[str],
                fences: dict[int, Fence], start: int, end: int, section: str | None) -> dict:
        params: list[dict[str, Any]] = []
        returns: list[dict[str, Any]] = []
        examples: list[str] = []
        desc_lines: list[str] = []
        extra: dict[str, Any] = {}
        aliases: list[dict[str, str]] = []
        deprecated = bool(re.search(r"deprecated", h.text, re.IGNORECASE) or "~~" in h.text)
        deprecation_note = None
        signatures: list[str] = []
        mode = "description"
        variant: str | None = None
        block: list[str] = []

        option_tables: dict[str, dict[str, Any]] = {}
        heading_params: list[dict[str, Any]] = []

        def flush() -> None:
            nonlocal block
            if mode == "params":
                params.extend(self._params_block(block))
            elif mode == "returns":
                text = " ".join(ln.strip() for ln in block if ln.strip())
                if re.fullmatch(r"(?:nothing|none|no value|nil|void)\.?", text, re.IGNORECASE):
                    extra["returns_nothing"] = True
                else:
                    returns.extend(self._returns_block(block, variant))
            elif mode == "phases":
                items = [t for _, t in _parse_items(block)] or [" ".join(x.strip() for x in block)]
                phases = [p.strip(" *_`") for t in items for p in re.split(r",\s*", t) if p.strip(" *_`")]
                if phases:
                    extra.setdefault("phases", []).extend(phases)
            elif mode == "paramhead" and heading_params:
                _fill_heading_param(heading_params[-1], block)
            elif mode in ("description", "usage", "default"):
                table = [ln for ln in block if ln.lstrip().startswith("|")]
                keys = _key_table(table) if table and mode == "description" else None
                if keys:
                    for p in self._params_block(block):  # "`opts` is a table with keys:"
                        option_tables[p["name"]] = p
                if table and mode == "description" and _param_table(table):
                    # a parameter table without a "Parameters" label
                    found = self._params_block(block)
                    known = {p["name"] for p in params}
                    params.extend(p for p in found if p["name"] not in known)
                    desc_lines.extend(ln for ln in block if not ln.lstrip().startswith("|"))
                else:
                    desc_lines.extend(block)
            block = []

        i = start
        while i < end:
            line = lines[i]
            if i in fences:
                fence = fences[i]
                if fence.lang in ("lua", "luajit", "lua5.1", "lua54", "moonscript", "") and fence.code.strip():
                    code_lines = [ln.strip() for ln in fence.code.split("\n")
                                  if ln.strip() and not ln.strip().startswith("--")]
                    # the block a name-only heading took its signature from is no example
                    own = parse_signature(code_lines[0], allow_spaced_bare=True) \
                        if len(code_lines) == 1 and sig is not None and "(" not in h.text else None
                    if own is not None and last_segment(own.name) == last_segment(name) \
                            and not any(p.get("literal") for p in own.params):
                        pass  # the entry's own signature in a block, not an example
                    elif fence.lang or _compiles(fence.code):
                        examples.append(fence.code.rstrip() + "\n")
                i = fence.end
                continue
            head = line.lstrip()[:1]
            if head == "[" and _LINK_DEF_RE.match(line):
                i += 1
                continue
            mf = _METHOD_FORM_RE.match(line) if head == ">" else None
            if mf:
                form = parse_signature(mf.group("sig"))
                if form is not None:
                    aliases.append({"name": form.name, "signature": form.text})
                i += 1
                continue
            inline_syntax = _SYNTAX_INLINE_RE.match(line) if head == "`" else None
            label = None if inline_syntax else match_label(line[line.index(">") + 1:]
                                                             if head == ">" else line)
            if inline_syntax or (label and label[0] == "syntax"):
                flush()
                mode = "syntax"
                text = inline_syntax.group("sig") if inline_syntax else label[1]
                if text:
                    signatures.append(_clean_syntax(text))
                i += 1
                continue
            if label:
                kind, rest, var = label
                flush()
                if kind == "deprecated":
                    deprecated = True
                    deprecation_note = re.sub(r"^[*_:\s]+", "", rest).strip() or None
                    mode = "description"
                    i += 1
                    continue
                mode, variant = kind, var
                if rest:
                    if kind == "returns":
                        if re.match(r"^(?:nothing|none|no value|nil)\.?$", rest.strip(), re.IGNORECASE):
                            extra["returns_nothing"] = True
                        else:
                            returns.extend(_returns_from_text(rest, variant))
                    elif kind == "params":
                        p = _param_from_item(rest)
                        if p:
                            params.append(p)
                    elif kind == "phases":
                        block.append(rest)
                    elif kind == "default":
                        extra["default"] = _strip_emphasis(rest)
                    elif kind == "type" and (sig is None or not sig.has_call):
                        extra["type"] = _strip_emphasis(rest).replace("`", "")
                    if kind != "phases":
                        mode = "description"  # an inline value closes the block
                i += 1
                continue
            if mode == "syntax":
                if line.strip() and not _LIST_ITEM_RE.match(line):
                    s = _strip_emphasis(line.strip())
                    if parse_signature(s, allow_spaced_bare=True):
                        signatures.append(_clean_syntax(s))
                        i += 1
                        continue
                    mode = "description"
                elif not line.strip():
                    i += 1
                    continue
                else:
                    mode = "description"
            if mode in ("params", "returns", "phases"):
                # a labelled list ends at a blank line followed by text that is not a list item
                # or an indented continuation
                if not line.strip():
                    j = i + 1
                    while j < end and not lines[j].strip():
                        j += 1
                    nxt = lines[j] if j < end else ""
                    if block and (j >= end or not (_LIST_ITEM_RE.match(nxt) or nxt.startswith(("  ", "\t"))
                                        or nxt.lstrip().startswith(("|", ":"))
                                        or _DEF_TERM_RE.match(nxt) and mode == "params"
                                        or _PARA_PARAM_RE.match(nxt) and mode == "params")
                                      or j in fences) or not block and (j >= end or j in fences
                                                                        or _ATX_RE.match(nxt)):
                        flush()
                        mode = "description"
                    i += 1
                    continue
                if block and not _LIST_ITEM_RE.match(line) and not line.startswith((" ", "\t")) \
                        and not line.lstrip().startswith("|") and mode != "phases" \
                        and not _LIST_ITEM_RE.match(block[-1]) and not block[-1].startswith((" ", "\t")) \
                        and not _DEF_DESC_RE.match(line) and not _DEF_TERM_RE.match(line) \
                        and not (mode == "params" and _PARA_PARAM_RE.match(block[0].strip())
                                 and head != "#"):
                    flush()
                    mode = "description"
                block.append(line)
                i += 1
                continue
            if ("precat" in line or "PRECAT" in line) and _DEPRECATED_TEXT_RE.search(line) \
                    and deprecation_note is None:
                deprecated = True
                deprecation_note = re.sub(r"^[*_>\s]*(?:deprecated)?[*_:\s]*", "", line.strip(),
                                          flags=re.IGNORECASE) or None
            sub = _ATX_RE.match(line) if head == "#" else None
            if sub:
                flush()
                mode = "description"
                # Solar2D-style: `##### parent ~^(optional)^~` then the parameter's text
                pm = _PARAM_HEADING_RE.match(_clean_inline(sub.group("text") or ""))
                sig_names = [p["name"] for p in sig.params] if sig is not None else []
                for text in signatures:
                    other = parse_signature(text, allow_spaced_bare=True)
                    sig_names += [p["name"] for p in other.params] if other is not None else []
                if pm and pm.group("name") in sig_names:
                    heading_params.append({"name": pm.group("name"), "type": pm.group("type"),
                                           "description": "",
                                           "optional": (pm.group("flag") or "").lower() == "optional"})
                    mode = "paramhead"
                i += 1
                continue
            if head == "`" and mode == "description" and sig is not None and sig.has_call:
                lone = re.fullmatch(r"\s*`([^`]+)`\s*", line)
                other = parse_signature(lone.group(1), allow_spaced_bare=True) if lone else None
                if other is not None and last_segment(other.name) == last_segment(sig.name) \
                        and other.params and other.text != sig.text \
                        and not any(p.get("literal") for p in other.params):
                    # `!!!info "create(parameters)"` then the parameters as a bullet list
                    flush()
                    signatures.append(other.text)
                    mode, variant = "params", None
                    i += 1
                    continue
            block.append(line.lstrip(">").rstrip() if line.lstrip().startswith(">") else line)
            i += 1
        flush()

        if sig is not None and sig.has_call and all(p["name"] == "..." for p in sig.params):
            # `# display.newRect()` with its parameters on a `## Syntax` line; `###create(...)`
            # where `(...)` stands for the parameters given below
            for text in signatures:
                other = parse_signature(text, allow_spaced_bare=True)
                if other is not None and other.params and last_segment(other.name) == last_segment(sig.name) \
                        and not all(p["name"] == "..." for p in other.params):
                    sig = Signature(sig.name, sig.name + other.text[len(other.name):], other.params,
                                    returns=other.returns or sig.returns)
                    signatures = [s for s in signatures if s != text]
                    break
        kind = sig.kind if sig is not None and sig.has_call else ("method" if ":" in name else "field")
        signature = sig.text if sig is not None else name
        if sig is not None and sig.has_call and name != sig.name:
            signature = name + sig.text[len(sig.name):]
        if heading_params and not params and sig is not None:
            by_name = {p["name"]: p for p in heading_params}
            params = [by_name.get(p["name"]) or {"name": p["name"], "type": p.get("type"),
                                                  "description": "", "optional": bool(p.get("optional"))}
                      for p in sig.params if not p.get("literal")]
        if not params and not heading_params and sig is not None and sig.has_call and sig.params:
            params = _unlabelled_params(desc_lines, [p["name"] for p in sig.params])
        params = _merge_params(sig.params if sig is not None and sig.has_call else [], params)
        for p in params:
            opt = option_tables.get(p["name"])
            if opt is not None and "fields" not in p:
                p["fields"] = opt["fields"]
                p["type"] = p.get("type") or opt["type"]
        if not returns and sig is not None and sig.returns:
            returns = [dict(r) for r in sig.returns]  # `ok, err = red:connect(...)`, `-> nil`
        if not returns and signatures:
            first = parse_signature(signatures[0], allow_spaced_bare=True)
            if first is not None and first.returns:
                returns = [dict(r) for r in first.returns]
        description = _paragraphs(_description_lines(desc_lines, name))
        record: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "signature": signature,
            "params": params,
            "returns": returns,
            "description": description,
            "examples": examples,
            "deprecated": deprecated,
            "source": {"file": self.source_name, "line": h.line + 1},
        }
        if deprecation_note and deprecated:
            record["deprecation"] = deprecation_note
        if section:
            record["section"] = section
        if aliases:
            record["aliases"] = aliases
        extra_sigs = [s for s in signatures[1:]] if signatures else []
        if extra_sigs:
            record["signatures"] = [signature, *extra_sigs]
        record.update(extra)
        return record

    def _params_block(self, block: list[str]) -> list[dict[str, Any]]:
        if any(ln.lstrip().startswith("|") for ln in block):
            table = [ln for ln in block if ln.lstrip().startswith("|")]
            keys = _key_table(table)
            if keys is not None:
                # "`config` is a `table` having the following keys:" + | Key | Type |
                prose = " ".join(ln for ln in block if not ln.lstrip().startswith("|"))
                spans = _CODE_SPAN_RE.findall(prose)
                if spans and re.fullmatch(IDENT, spans[0]):
                    ptype = spans[1] if len(spans) > 1 and spans[1] in _KNOWN_TYPES else "table"
                    return [{"name": spans[0], "type": ptype, "description": _clean_inline(prose),
                             "optional": False, "fields": keys}]
                return []
            out = []
            for row in _table_rows(block):
                pname = next((row[k] for k in _PARAM_COLUMNS if row.get(k)), None)
                if not pname:
                    continue
                p = _param_from_item(pname) or {"name": pname.strip("`*_ "), "optional": False}
                ptype = next((row[k] for k in ("type", "types") if row.get(k)), None)
                if ptype:
                    p["type"] = ptype.replace("`", "").strip()
                descr = next((row[k] for k in ("description", "desc", "meaning") if row.get(k)), "")
                if descr:
                    p["description"] = descr
                if "optional" in (row.get("optional", "") + row.get("required", "")).lower() or \
                        row.get("required", "").lower() in ("no", "false"):
                    p["optional"] = True
                p.setdefault("type", None)
                p.setdefault("description", "")
                out.append(p)
            return out
        if any(_DEF_DESC_RE.match(ln) for ln in block):
            return _definition_params(block)
        first = next((ln for ln in block if ln.strip()), "")
        if _PARA_PARAM_RE.match(first.strip()):
            # "`source` is the path to copy." - a paragraph for each parameter (a list under
            # one, "`value` is one of:", belongs to its description)
            out = []
            for ln in block:
                m = re.match(rf"^`(?P<name>{IDENT}|\.\.\.)`\s+", ln.strip()) \
                    if _PARA_PARAM_RE.match(ln.strip()) else None
                if m:
                    out.append({"name": m.group("name"), "type": None, "description": "",
                                "optional": False})
                text = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", ln.strip()).replace("`", "")
                if out and text:
                    sep = " " if not out[-1]["description"].endswith(":") else " "
                    out[-1]["description"] = (out[-1]["description"] + sep + text).strip()
            return out
        items = _parse_items(block)
        if not items:
            return []
        top = min(indent for indent, _ in items)
        second = min((indent for indent, _ in items if indent > top), default=top)
        out: list[dict[str, Any]] = []
        for indent, text in items:
            if indent > top and out:
                sub = re.sub(r"\s+", " ", text.replace("\n", " ")).replace("`", "").strip()
                sub = re.sub(r"\{>>|<<\}|\{\+\+|\+\+\}", "", sub).strip()  # CriticMarkup comments
                if indent == second and re.match(r"^\W*optional\b", sub, re.IGNORECASE):
                    out[-1]["optional"] = True  # `* {>>Optional, defaults to 1.<<}` under it
                out[-1]["description"] = (out[-1]["description"] + ("; " if out[-1]["description"] else "")
                                          + sub).strip()
                continue
            several = _SEVERAL_PARAMS_RE.match(text)
            if several:  # `**x, y** : the coordinates`: one description, two parameters
                rest = re.sub(r"^\s*[:\-—–]\s*", "", several.group("rest")).strip()
                for pname in re.split(r"\s*,\s*", several.group("names")):
                    out.append({"name": pname, "type": None, "description": rest,
                                "optional": False})
                continue
            p = _param_from_item(text)
            if p is not None:
                out.append(p)
        return out

    def _returns_block(self, block: list[str], variant: str | None) -> list[dict[str, Any]]:
        table = [ln for ln in block if ln.lstrip().startswith("|")]
        if table and any(h in ("type", "types") for h in _table_header(table)):
            out = []  # | Name | Type | Description |
            for row in _table_rows(table):
                entry: dict[str, Any] = {
                    "type": (next((row[k] for k in ("type", "types") if row.get(k)), "")
                             .replace("`", "").strip() or None),
                    "description": next((row[k] for k in ("description", "desc") if row.get(k)), "")}
                rname = (row.get("name") or "").strip("`*_ ")
                if rname and re.fullmatch(IDENT, rname):
                    entry["name"] = rname
                if variant:
                    entry["variant"] = variant
                out.append(entry)
            return out
        items = _parse_items(block)
        if not items:
            text = " ".join(ln.strip() for ln in block if ln.strip())
            return [_return_from_item(text, variant)] if text else []
        top = min(indent for indent, _ in items)
        out: list[dict[str, Any]] = []
        for indent, text in items:
            if indent > top and out:
                out[-1]["description"] = (out[-1]["description"] + " " + text.replace("`", "")).strip()
                continue
            out.extend(_returns_from_text(text, variant))
        return out


def _unlabelled_params(lines: list[str], names: list[str]) -> list[dict[str, Any]]:
    """A bullet list in the description whose items open with the signature's parameters
    (`` - `opts` - Required, the options ``), with no "Parameters" label: the parameters."""
    block = [ln for ln in lines if ln.strip()]
    items = _parse_items([ln for ln in lines if ln.strip() and (_LIST_ITEM_RE.match(ln) or
                                                                 ln.startswith((" ", "\t")))])
    if not items or not block:
        return []
    top = min(indent for indent, _ in items)
    found: list[dict[str, Any]] = []
    for indent, text in items:
        if indent > top:
            if found:
                sub = re.sub(r"\s+", " ", text).replace("`", "").strip()
                found[-1]["description"] = (found[-1]["description"] + "; " + sub).strip("; ")
            continue
        p = _param_from_item(text)
        if p is None or p["name"] not in names or any(q["name"] == p["name"] for q in found):
            continue
        desc = p["description"]
        if re.match(r"^required\b[,.:]?\s*", desc, re.IGNORECASE):
            p["description"] = re.sub(r"^required\b[,.:]?\s*", "", desc, flags=re.IGNORECASE)
        elif re.match(r"^optional\b", desc, re.IGNORECASE):
            p["optional"] = True
            p["description"] = re.sub(r"^optional\b[,.:]?\s*", "", desc, flags=re.IGNORECASE)
        found.append(p)
    # only when they are the parameters' list: at least half of the signature's names
    return found if len(found) * 2 >= len(names) else []


def _is_label_heading(text: str) -> bool:
    t = _strip_emphasis(_clean_inline(text)).strip().rstrip(":").lower()
    return t in _LABEL_KIND or t in ("note", "notes", "see also", "errors", "remarks", "description")


def _clean_syntax(text: str) -> str:
    text = _strip_emphasis(_clean_inline(text)).strip().strip("`").strip()
    return _strip_emphasis(text)


_TYPED_FIELD_RE = re.compile(
    rf"^(?:(?:static|readonly|const)\s+)*(?P<name>{IDENT}(?:\.{IDENT})*)\??\s*:\s+"
    r"(?P<type>[A-Za-z_{\[(\"'][^`]{0,60})$")


def _typed_field(text: str, spanned: bool) -> tuple[str, str] | None:
    """``Knit.Services: [Service]`` / ``static defaultProps: Dictionary<any, any>``: a field
    name and its type (a dotted name, or any name where the text is a code span - never prose
    like "Note: see below")."""
    m = _TYPED_FIELD_RE.match(_strip_emphasis(text.strip().strip("`")).strip())
    if not m or not (spanned or "." in m.group("name")):
        return None
    ptype = m.group("type").strip()
    if len(ptype.split()) > 4 and not re.search(r"[<{\[(|]", ptype):
        return None  # a sentence, not a type
    return m.group("name"), ptype


def _field_from_syntax(text: str, heading_name: str) -> str | None:
    """``val = ngx.arg[index]`` / ``ngx.var.VAR_NAME`` under heading ``ngx.arg``: a field."""
    s = _ASSIGN_RE.sub("", _clean_syntax(text), count=1)
    m = NAME_RE.match(s)
    if m and (m.group(0) == heading_name or last_segment(m.group(0)) == last_segment(heading_name)
              or m.group(0).startswith(heading_name + ".")):
        return heading_name if ("." in heading_name or ":" in heading_name) else m.group(0)
    return None


def _merge_params(sig_params: list[dict[str, Any]], documented: list[dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """Documented parameters (names, types, descriptions) with optional flags from the
    signature (``[x]``, ``x?``); signature-only parameters fill in when nothing is documented."""
    by_name = {p["name"]: p for p in sig_params}
    if not documented:
        return [{"name": p["name"], "type": p.get("type"), "description": "",
                 "optional": bool(p.get("optional")), **({"vararg": True} if p.get("vararg") else {})}
                for p in sig_params if not p.get("literal")]
    out: list[dict[str, Any]] = []
    seen: dict[str, dict[str, Any]] = {}
    for p in documented:
        if p["name"] in seen:  # one parameter listed twice (per-version variants)
            seen[p["name"]]["optional"] = seen[p["name"]]["optional"] or bool(p.get("optional"))
            continue
        merged = {"name": p["name"], "type": p.get("type"), "description": p.get("description", ""),
                  "optional": bool(p.get("optional"))}
        merged.update((k, v) for k, v in p.items() if k in ("fields", "default", "values", "vararg"))
        s = by_name.get(p["name"])
        if s is not None:
            merged["optional"] = merged["optional"] or bool(s.get("optional"))
            if merged["type"] is None and s.get("type"):
                merged["type"] = s["type"]
        elif merged["type"] and re.search(r"\bnil\b|\?$", merged["type"]) and not sig_params:
            merged["optional"] = True
        seen[p["name"]] = merged
        out.append(merged)
    return out


def _compiles(code: str) -> bool:
    from luacoder_core.lua import check_syntax

    return check_syntax(code).ok


def _richness(record: dict) -> tuple:
    return (len(record.get("params") or []), len(record.get("returns") or []),
            len(record.get("examples") or []), len(record.get("description") or ""))


def extract_api(text: str, *, source: str = "<text>", heading_level: int | None = None,
                roots: Iterable[str] = (), method_forms: str = "attach") -> list[dict[str, Any]]:
    """The API records of one markdown text (duplicates by name kept: first the richest)."""
    doc = _Extractor(heading_level=heading_level, roots=list(roots), method_forms=method_forms,
                     source_name=source).extract(text)
    return [e.record for e in doc.entries if e.reject is None]


def finalize_kinds(records: list[dict[str, Any]]) -> None:
    """A documented field whose name prefixes other documented names is a module."""
    prefixes = set()
    for r in records:
        name = r["name"]
        for m in re.finditer(r"[.:]", name):
            prefixes.add(name[: m.start()])
    for r in records:
        if r.get("kind") == "field" and r["name"] in prefixes:
            r["kind"] = "module"


_MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd", ".mdx", ".adoc", ".asciidoc")


def _expand_inputs(inputs: list[str], suffixes: tuple[str, ...] = _MARKDOWN_SUFFIXES
                   ) -> tuple[list[Path], list[str]]:
    """The files named by ``inputs`` (files, folders searched for ``suffixes``, globs) and notes
    on what a folder held that this converter does not read."""
    paths: list[Path] = []
    notes: list[str] = []
    for raw in inputs:
        path = Path(raw)
        if any(ch in raw for ch in "*?[") and not path.exists():
            matches = sorted(Path().glob(raw)) if not path.is_absolute() else sorted(
                Path(path.anchor).glob(str(path.relative_to(path.anchor))))
            if not matches:
                raise InputError("no file matches this pattern", file=raw)
            paths.extend(m for m in matches if m.is_file())
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes and p.is_file())
            paths.extend(found)
            lua = sum(1 for p in path.rglob("*.lua") if p.is_file())
            if lua and ".lua" not in suffixes:
                notes.append(f"{raw}: {lua} .lua file(s) not read: Lua sources are read by "
                             f"`lua-api` (or `api-docs`, which reads markdown and Lua together)")
            for ext, what in ((".rst", "reStructuredText: `api-docs` reads Sphinx-style pages, "
                                       "`pandoc -f rst -t gfm` converts the others"),
                              (".html", "HTML: `api-docs` reads LDoc's HTML pages")):
                count = sum(1 for p in path.rglob(f"*{ext}") if p.is_file())
                if count and ext not in suffixes:
                    notes.append(f"{raw}: {count} {ext} file(s) not read ({what})")
            if not found:
                notes.append(f"{raw}: no {'/'.join(suffixes)} file in this folder")
        elif not path.exists():
            raise InputError("file not found", file=raw)
        else:
            paths.append(path)
    return paths, notes


def sniff_markdown(path: Path, head: str) -> str | None:
    """Why ``path`` (whose first few KB are ``head``) is not a markdown API reference, or None."""
    suffix = path.suffix.lower()
    stripped = head.lstrip("\ufeff").strip()
    if not stripped:
        return "empty file (no text at all)"
    if suffix == ".lua" or re.match(r"^(?:---@meta\b|--\[\[|---?\s*@module\b|local\s+\w+\s*=\s*"
                                    r"(?:\{|require))", stripped):
        return ("a Lua source file, not markdown; its LuaLS/EmmyLua annotations or LDoc comments "
                f"are read by `lua-api`: luacoder data convert lua-api {path} -o OUT.jsonl")
    low = stripped[:4000].lower()
    if suffix in (".html", ".htm", ".xhtml") or low.startswith(("<!doctype html", "<html", "<?xml")):
        if "ldoc" in low:
            return ("LDoc's HTML output, not markdown; `api-docs` reads it (luacoder data "
                    f"convert api-docs {path} -o OUT.jsonl), and `lua-api` reads the Lua sources "
                    "it was generated from (the same LDoc comments)")
        return ("an HTML page, not markdown; no luacoder converter reads HTML: convert it to "
                "markdown first (e.g. `pandoc -f html -t gfm`), then use `markdown-api`")
    if suffix in (".rst", ".rest") or re.search(r"^\.\. (?:function|module|method|class|code-block|"
                                                r"_[\w-]+|toctree)::?", head, re.MULTILINE):
        if re.search(r"^\s*\.\.\s+(?:lua:)?(?:function|method|module|class)::", head, re.MULTILINE):
            return ("reStructuredText with Sphinx directives (`.. function::`), not markdown; "
                    f"`api-docs` reads it (luacoder data convert api-docs {path} -o OUT.jsonl)")
        return ("reStructuredText, not markdown; no luacoder converter reads it: convert it first "
                "(`pandoc -f rst -t gfm FILE -o FILE.md`), then use `markdown-api`")
    if suffix in (".txt", ".json", ".jsonl", ".yaml", ".yml", ".toml", ".c", ".h", ".py", ".js"):
        return f"a {suffix} file, not markdown; `markdown-api` reads .md/.markdown references"
    return None


_CHUNK_LINES = 4000


def iter_markdown_chunks(path: Path, chunk_lines: int = _CHUNK_LINES
                         ) -> Iterator[tuple[list[str], int, bool]]:
    """A markdown file as pieces of about ``chunk_lines`` lines, cut only before a level 1-2
    heading outside code and comments: ``(lines, offset, first)`` where ``offset`` is the
    0-based file line of ``lines[0]``. One piece at a time is in memory, so a file of any size
    streams; a piece after the first starts with the open level-1 prose heading (its context:
    ``# Module x``), placed on the line before ``offset``."""
    buf: list[str] = []
    start = 0
    first = True
    fence: str | None = None
    comment = False
    h1: str | None = None
    with open(path, encoding="utf-8", newline="") as fh:
        for i, line in enumerate(_checked_lines(fh, path)):
            if i == 0:
                line = line.lstrip("\ufeff")
            line = line.rstrip("\n").rstrip("\r")
            head = line.lstrip()[:1]
            if len(buf) >= chunk_lines and fence is None and not comment:
                cut = None
                atx = _ATX_RE.match(line) if head == "#" else None
                if atx and len(atx.group("level")) <= 2:
                    cut = len(buf)
                elif _SETEXT_RE.match(line) and buf[-1].strip() and \
                        (len(buf) < 2 or not buf[-2].strip()) and not _LIST_ITEM_RE.match(buf[-1]):
                    cut = len(buf) - 1
                if cut is not None:
                    prefix = [h1] if h1 is not None else []
                    yield (prefix if not first else []) + buf[:cut], \
                        start - (len(prefix) if not first else 0), first
                    first = False
                    start += cut
                    buf = buf[cut:]
            m = _FENCE_OPEN_RE.match(line) if head in ("`", "~") else None
            if fence is None and not comment:
                if m:
                    fence = m.group("fence")
                else:
                    atx = _ATX_RE.match(line) if head == "#" else None
                    if atx and len(atx.group("level")) == 1:
                        h1 = line if _prose_heading(atx.group("text") or "") else None
                    elif head == "=" and buf and re.match(r"^ {0,3}=+\s*$", line) and buf[-1].strip():
                        h1 = ("# " + buf[-1].strip()) if _prose_heading(buf[-1]) else None
                    if "<!--" in line and "-->" not in line[line.rindex("<!--"):]:
                        comment = True
            elif fence is not None:
                if m and m.group("fence")[0] == fence[0] and len(m.group("fence")) >= len(fence) \
                        and not m.group("info"):
                    fence = None
            elif "-->" in line:
                comment = False
            buf.append(line)
    if buf or first:
        prefix = [h1] if (h1 is not None and not first) else []
        yield prefix + buf, start - len(prefix), first


def _checked_lines(fh, path: Path) -> Iterator[str]:
    """The lines of a text file opened as UTF-8; a byte that is not UTF-8 is an
    :class:`InputError` naming its line (found again in binary, only when it happens)."""
    try:
        yield from fh
    except UnicodeDecodeError as exc:
        with open(path, "rb") as raw:
            for k, data in enumerate(raw, 1):
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError as bad:
                    raise InputError(f"not UTF-8 (byte 0x{data[bad.start]:02x})", file=str(path),
                                     line=k) from exc
        raise InputError("not UTF-8", file=str(path)) from exc


def _prose_heading(text: str) -> bool:
    clean = _clean_inline(text).replace("`", "")
    return not _is_api_name(clean.strip()) and parse_signature(clean) is None


def read_markdown(path: Path) -> str:
    from luacoder_core.records import read_text

    return read_text(path)


def _alias_records(record: dict[str, Any]) -> list[dict[str, Any]]:
    """``> method form obj:m()`` aliases as ``method`` records (``--method-forms records``)."""
    return [{"name": alias["name"], "kind": "method", "signature": alias["signature"],
             "params": record["params"][1:] if record["params"] else [],
             "returns": record["returns"], "description": record["description"], "examples": [],
             "deprecated": record["deprecated"], "alias_of": record["name"],
             "source": record["source"]} for alias in record.get("aliases", [])]


class MarkdownApiConverter(Converter):
    """An API reference in markdown (files, folders, globs) -> API records."""

    summary = "API reference markdown (files, folders, globs) -> API records."
    output_kind = "api"

    def params(self) -> list[click.Parameter]:
        return [
            click.Option(["--heading-level"], type=click.IntRange(1, 6), default=None,
                         help="Only headings of this level are API entries (default: any level; "
                              "a heading is an entry when it holds a signature, a dotted name, or a "
                              "name followed by a signature line)."),
            click.Option(["--root", "roots"], multiple=True,
                         help="Module name that bare names are qualified with (`new` -> "
                              "ROOT.new), for references that write functions without their "
                              "module. Repeatable; the first one qualifies."),
            click.Option(["--method-forms"], type=click.Choice(["attach", "records"]),
                         default="attach", show_default=True,
                         help="`> method form obj:m()` aliases: keep them in the record's "
                              "`aliases`, or also write each as a `method` record."),
            click.Option(["--keep-duplicates"], is_flag=True,
                         help="Keep every entry of a name documented twice (e.g. per-version "
                              "variants); by default the richest one is kept and the rest "
                              "counted as duplicates."),
            *common_params(),
        ]

    def run(self, inputs: list[str], output: str, *, heading_level: int | None = None,
            roots: tuple[str, ...] = (), method_forms: str = "attach",
            keep_duplicates: bool = False, **options: Any):
        paths, notes = _expand_inputs(inputs)
        out = open_output(output, kind="api", name="markdown-api", options=options)
        with out:
            api = MarkdownApiReader(heading_level=heading_level, roots=roots,
                                    method_forms=method_forms, keep_duplicates=keep_duplicates)
            for path in paths:
                api.read(path, out)
            api.finish(out)
            out.summary.extra["headings"] = api.headings
            out.summary.extra["prose_headings"] = api.prose
            out.summary.extra["files"] = len(paths)
            from luacoder_data.converters.lua_api import _finish

            _finish(out, notes + api.notes, paths, "markdown-api")
        return out.summary


def head_text(path: Path, size: int = 8192) -> str:
    with open(path, "rb") as fh:
        return fh.read(size).decode("utf-8", errors="replace")


class MarkdownApiReader:
    """Reads markdown files into an :class:`Output` one piece at a time (flat memory): within
    the whole run a name documented more than once keeps its richest record (so a page wins
    over an index that links to it) and every distinct signature (``signatures``); only the
    records wait in a temporary file until :meth:`finish` writes the chosen ones."""

    def __init__(self, *, heading_level: int | None = None, roots: Iterable[str] = (),
                 method_forms: str = "attach", keep_duplicates: bool = False) -> None:
        self.extractor_args = {"heading_level": heading_level, "roots": list(roots),
                               "method_forms": method_forms}
        self.method_forms = method_forms
        self.keep_duplicates = keep_duplicates
        # name -> (richness, offset of its record in the spill file): the records themselves
        # wait on disk, so memory holds one small entry per distinct name
        self.chosen: dict[str, tuple[tuple, int]] = {}
        self.first_sig: dict[str, str] = {}
        self.signatures: dict[str, list[str]] = {}  # only names with more than one signature
        self._spill = None
        self.headings = 0
        self.prose = 0
        self.notes: list[str] = []

    def read(self, path: Path, out: Output) -> int:
        """Extract ``path``'s entries; returns how many API entries it held."""
        if path.suffix.lower() == ".txt":
            from luacoder_data.vimdoc import looks_like_vimdoc

            if looks_like_vimdoc(head_text(path, 1 << 20)):
                return self._read_vimdoc(path, out)
        problem = None if looks_like_asciidoc(path, head_text(path, 65536)) else \
            sniff_markdown(path, head_text(path, 65536))
        if problem:
            self.notes.append(f"{path}: {problem}")
            return 0
        entries = 0
        headings = 0
        adoc = looks_like_asciidoc(path, head_text(path, 65536))
        for lines, offset, first in iter_markdown_chunks(path):
            if adoc:
                lines = asciidoc_to_markdown(lines)
            doc = _Extractor(**self.extractor_args, source_name=str(path)).extract(
                "", line_offset=offset, prepared=prepare_lines(lines, front_matter=first))
            self.headings += doc.headings
            headings += doc.headings
            self.prose += doc.prose
            for entry in doc.entries:
                entries += 1
                out.count_read()
                if entry.reject:
                    out.reject(entry.record, entry.reject, entry.record["source"])
                    continue
                self._add(entry.record, out)
                if self.method_forms == "records":
                    for alias in _alias_records(entry.record):
                        out.count_read()
                        self._add(alias, out)
        if not entries:
            self.notes.append(f"{path}: no API entries: {headings} heading(s), none names a "
                              "function, method or field (a tutorial or prose page? headings "
                              "that are bare names without signatures need --heading-level N)")
        return entries

    def _read_vimdoc(self, path: Path, out: Output) -> int:
        """A Vim help file (``doc/*.txt``), read by :mod:`luacoder_data.vimdoc`."""
        from luacoder_data.vimdoc import extract_vimdoc

        records = extract_vimdoc(read_markdown(path), source=str(path))
        for record in records:
            out.count_read()
            self._add(record, out)
        if not records:
            self.notes.append(f"{path}: a Vim help file without function entries")
        return len(records)

    def _add(self, record: dict, out: Output) -> None:
        name = record["name"]
        sigs = record.get("signatures") or ([record["signature"]] if record.get("signature") else [])
        first = self.first_sig.setdefault(name, sigs[0] if sigs else "")
        extra = [x for x in sigs if x != first]
        if extra:
            known = self.signatures.setdefault(name, [first] if first else [])
            known.extend(x for x in extra if x not in known)
        if self.keep_duplicates:
            out.write(record, record["source"])
            return
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(mode="w+b")
        offset = self._spill.tell()
        self._spill.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
        rich = _richness(record)
        best = self.chosen.get(name)
        if best is None:
            self.chosen[name] = (rich, offset)
            return
        out.count_duplicate(kind="same name")
        if rich > best[0]:
            self.chosen[name] = (rich, offset)

    def finish(self, out: Output) -> None:
        """Write the chosen record of each name (read back from the spill file, in the order
        they were found), with every signature of the name."""
        if self._spill is None:
            return
        keep = {offset for _, offset in self.chosen.values()}
        prefixes = {name[: m.start()] for name in self.chosen for m in re.finditer(r"[.:]", name)}
        self._spill.seek(0)
        offset = 0
        for line in self._spill:
            here, offset = offset, offset + len(line)
            if here not in keep:
                continue
            record = json.loads(line)
            if record.get("kind") == "field" and record["name"] in prefixes:
                record["kind"] = "module"
            sigs = self.signatures.get(record["name"], [])
            if len(sigs) > 1:
                main = record.get("signature")
                record["signatures"] = [main, *[x for x in sigs if x != main]] if main else sigs
            out.write(record, record["source"])
        self._spill.close()
        self._spill = None
        self.chosen.clear()
