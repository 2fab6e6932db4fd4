"""API records from Lua sources: LuaLS/EmmyLua annotations (``---@param``, ``---@class``,
``---@meta`` definition files...) and LDoc comments (``@tparam``, ``@module``, ``@usage``...).

The code is split by core's Lua lexer (:func:`luacoder_core.lua.tokenize`, which keeps comments
with their line numbers and never raises on broken code); a small walk over the tokens finds the
declarations that are visible from outside the file, and the doc comment right above each one
is read line by line. luaparser is not used: it does keep comments, but it parses ~600x slower
than a compile check (NOTES-cpu.md: 0.46 s for 2,000 lines) and fails on a whole file for one
syntax error, where a definitions folder of several MB must take seconds and a file with a typo
should still give the functions it declares.

What counts as public:

* ``function a.b.c(...)``, ``function C:m(...)``, ``a.b = function(...)`` outside any function
  body (inside ``if``/``do`` blocks too), with ``local`` tables resolved: ``local C = {}`` under
  ``---@class love.BezierCurve`` names its methods ``love.BezierCurve:m``, and ``local stringx =
  {}`` in a module ``pl.stringx`` (``@module``, or the file's path) gives ``stringx.strip`` and
  ``pl.stringx.strip``;
* ``local function f`` is private unless a public name is assigned it (``M.f = f``); ``@local``
  hides an entry, ``@function name`` (LDoc) documents one the code builds otherwise;
* ``---@class`` gives a ``module`` record holding its ``@field``s (a class with a runtime table
  also gives one ``field`` record per field); ``---@alias`` values fill in the ``values`` of the
  parameters typed with it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_NAME_RE = re.compile(rf"^{IDENT}(?:\.{IDENT})*$")
_LUALS_HINT_RE = re.compile(
    r"^\s*---\s*@(?:meta|class|field|alias|overload|generic|nodiscard|async|enum|cast|operator|"
    r"diagnostic|type\b)|^\s*---@\w", re.MULTILINE)
_LDOC_HINT_RE = re.compile(r"@(?:module|tparam|treturn|usage|classmod|submodule|within|section|"
                           r"function|script|topic|lfunction)\b")
# LDoc's type shortcuts: `@string s`, `@int[opt=8] n`, `@tab t`...
_LDOC_TYPE_TAGS = {"string": "string", "int": "integer", "number": "number", "bool": "boolean",
                   "tab": "table", "table": "table", "func": "function",
                   "array": "table", "thread": "thread", "userdata": "userdata"}
_STD_TYPES = frozenset("nil any boolean string number integer function table thread userdata "
                       "lightuserdata unknown self void".split())
_STD_ROOTS = frozenset("string table math os io coroutine debug package utf8 bit32 _G".split())
_PRIVATE_LOCALS = frozenset({"M", "_M", "mod", "module", "lib", "exports", "P", "_"})


@dataclass
class DocBlock:
    """A doc comment: description lines and ``(tag, text, line)`` tags, continuation lines
    joined to the tag above them."""

    line: int  # 1-based line of the first comment line
    end: int  # 1-based line of the last comment line
    desc: list[str] = field(default_factory=list)
    tags: list[tuple[str, str, int]] = field(default_factory=list)
    luals: bool = False  # written ---@tag (no space): LuaLS even in a file that looks LDoc

    def has(self, tag: str) -> bool:
        return any(t == tag for t, _, _ in self.tags)

    def first(self, tag: str) -> str | None:
        return next((text for t, text, _ in self.tags if t == tag), None)


def _comment_lines(text: str) -> list[tuple[str, bool]]:
    """The text lines of one comment token (``--`` markers removed), each with whether it was a
    ``---`` doc line."""
    m = re.match(r"^--\[(=*)\[", text)
    if m:
        body = text[m.end():]
        close = "]" + m.group(1) + "]"
        if body.endswith(close):
            body = body[: -len(close)]
        body = re.sub(r"^-+", "", body)  # `--[[--` LDoc block
        return [(ln, True) for ln in body.split("\n")]
    doc = text.startswith("---")
    body = text[3:] if doc else text[2:]
    if doc and body.startswith("-"):  # `------` rules
        body = "" if not body.strip("-").strip() else body.lstrip("-")
    return [(body, doc)]


def parse_doc_block(lines: list[tuple[str, int]], *, luals_file: bool) -> DocBlock:
    """A doc block from its comment lines ``(text, line)`` (markers removed): text before the
    first tag and between tags is the description; a line indented under a ``@param``/``@return``
    /``@field`` tag (or an ``| value`` line under ``@alias``) continues it; ``@usage`` takes every
    line up to the next tag."""
    block = DocBlock(line=lines[0][1], end=lines[-1][1], luals=luals_file)
    in_code = False
    open_tag = False  # the last tag still takes lines (no blank line since)
    for raw, lineno in lines:
        text = raw[1:] if raw.startswith(" ") else raw
        stripped = text.strip()
        if not stripped:
            open_tag = False
        if stripped.startswith("```"):
            in_code = not in_code
        tag = None if in_code else _TAG_RE.match(text)
        if tag:
            if raw.startswith("@"):
                block.luals = True
            block.tags.append((tag.group("tag"), (tag.group("mod") or "") + (tag.group("rest") or "").rstrip(),
                               lineno))
            open_tag = True
            continue
        last = block.tags[-1][0] if block.tags else None
        if last == "usage" or (last in _CONTINUED and stripped and (
                open_tag or raw.startswith(("  ", "\t")) or stripped.startswith("|"))):
            t, body, ln = block.tags[-1]
            block.tags[-1] = (t, body + "\n" + (text.rstrip() if t == "usage" else stripped), ln)
            continue
        block.desc.append(text.rstrip())
    return block


_TAG_RE = re.compile(r"^\s*@(?P<tag>[A-Za-z_]+)(?P<mod>\[[^\]]*\])?(?:\s(?P<rest>.*)|(?P<end>$))$")
_CONTINUED = frozenset({"param", "return", "field", "tparam", "treturn", "alias", "overload",
                        "string", "int", "number", "bool", "tab", "table", "func", "raise"})


# ------------------------------------------------------------------------------------------------
# Types
# ------------------------------------------------------------------------------------------------


def read_type(text: str) -> tuple[str, str]:
    """A LuaLS type at the start of ``text`` and the rest: ``fun(a: x, b?: y): z``,
    ``table<string, integer>``, ``string | nil``, ``"a"|"b"``, ``{ x: number }`` are one type."""
    text = text.lstrip()
    i, depth, n = 0, 0, len(text)
    quote = None
    while i < n:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
            i += 1
            continue
        if ch in "\"'`":
            quote = ch
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            if depth == 0:
                break
            depth -= 1
        elif ch.isspace() and depth == 0:
            # a type goes on past a space around "|" and after "fun(...):"
            j = i
            while j < n and text[j].isspace():
                j += 1
            prev = text[:i].rstrip()[-1:] if text[:i].rstrip() else ""
            if (j < n and text[j] == "|") or prev in ("|", ":") and text[:i].rstrip().endswith(
                    ("|", "):")) or prev == "|":
                i = j
                continue
            break
        elif ch == "," and depth == 0:
            break
        elif ch == "#" and depth == 0:
            break
        i += 1
    return text[:i].strip(), text[i:]


def _clean_desc(text: str) -> str:
    text = re.sub(r"[ \t]*\n[ \t]*", " ", text.strip())
    text = re.sub(r"^(?:#|:|-{1,2}|—)\s*", "", text)
    return text.strip()


def _optional_type(t: str | None) -> tuple[str | None, bool]:
    if not t:
        return t, False
    opt = False
    if t.endswith("?") and not t.endswith("??"):
        t, opt = t[:-1], True
    parts = split_outside_brackets(t, "|")
    if "nil" in parts and len(parts) > 1:
        opt = True
    return t, opt


def _looks_like_type(word: str, known: set[str]) -> bool:
    base = word.rstrip("?").replace("[]", "")
    if not base:
        return False
    if any(c in word for c in "|<({\"'") or word.endswith("[]"):
        return True
    return base in _STD_TYPES or base in known or "." in base or base[:1].isupper()


def fun_params(ftype: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """``fun(a: x, b?: y): z, w`` -> params and returns, or None when not a ``fun`` type."""
    m = re.match(r"^fun\s*(?:<[^>]*>)?\s*\(", ftype)
    if not m:
        return None
    depth, i = 1, m.end()
    while i < len(ftype) and depth:
        if ftype[i] in "([{<":
            depth += 1
        elif ftype[i] in ")]}>":
            depth -= 1
        i += 1
    inner = ftype[m.end(): i - 1]
    params = []
    for part in split_outside_brackets(inner):
        if not part:
            continue
        pm = re.match(rf"^(?P<name>\.\.\.|{IDENT})(?P<q>\?)?\s*(?::\s*(?P<type>.+))?$", part)
        if not pm:
            params.append({"name": part, "type": None, "description": "", "optional": False})
            continue
        ptype, opt = _optional_type(pm.group("type").strip() if pm.group("type") else None)
        params.append({"name": pm.group("name"), "type": ptype, "description": "",
                       "optional": bool(pm.group("q")) or opt or pm.group("name") == "..."})
    rest = ftype[i:].strip()
    returns = []
    if rest.startswith(":"):
        for r in split_outside_brackets(rest[1:]):
            if r:
                rtype, _ = _optional_type(r.strip())
                returns.append({"type": rtype, "description": ""})
    return params, returns


_CLOSING = {"(": ")", "[": "]", "{": "}", "<": ">"}


def split_outside_brackets(text: str, sep: str = ",", brackets: str = "([{<") -> list[str]:
    """``text`` cut at each ``sep`` that no bracket of ``brackets`` encloses, parts stripped:
    ``a, fun(b, c): d`` -> ``["a", "fun(b, c): d"]`` (types, signatures, unions)."""
    closers = "".join(_CLOSING[b] for b in brackets)
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in brackets:
            depth += 1
        elif ch in closers:
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


# ------------------------------------------------------------------------------------------------
# Tags -> record parts
# ------------------------------------------------------------------------------------------------


def _param_from_tag(tag: str, text: str, *, luals: bool, known: set[str]) -> dict[str, Any] | None:
    text = text.strip()
    if tag in _LDOC_TYPE_TAGS and tag != "param":  # `@string[opt] s desc`, `@int n[opt=8]`
        mod = re.match(r"^\[(?P<mod>[^\]]*)\]\s*", text)
        opt = False
        default = None
        if mod:
            text = text[mod.end():]
            opt, default = _ldoc_opt(mod.group("mod"))
        m = re.match(rf"^(?P<name>\.\.\.|{IDENT})(?:\[(?P<mod>[^\]]*)\])?\s*(?P<desc>.*)$", text,
                     re.DOTALL)
        if not m:
            return None
        if m.group("mod"):
            opt, default = _ldoc_opt(m.group("mod"))
        p = {"name": m.group("name"), "type": _LDOC_TYPE_TAGS[tag], "description":
             _clean_desc(m.group("desc")), "optional": opt or m.group("name") == "..."}
        if default is not None:
            p["default"] = default
        return p
    if tag == "tparam":  # `@tparam[opt] string name desc`
        mod = re.match(r"^\[(?P<mod>[^\]]*)\]\s*", text)
        opt, default = _ldoc_opt(mod.group("mod")) if mod else (False, None)
        if mod:
            text = text[mod.end():]
        ptype, rest = read_type(text)
        m = re.match(rf"^\s*(?P<name>\.\.\.|{IDENT})(?:\[(?P<mod>[^\]]*)\])?\s*(?P<desc>.*)$", rest,
                     re.DOTALL)
        if not m:
            return None
        if m.group("mod"):
            opt, default = _ldoc_opt(m.group("mod"))
        ptype, topt = _optional_type(ptype)
        p = {"name": m.group("name"), "type": ptype or None,
             "description": _clean_desc(m.group("desc")), "optional": opt or topt}
        if default is not None:
            p["default"] = default
        return p
    ldt = re.match(rf"^(?:[\w.]*)#(?P<type>unsigned\s+\w+|[\w.]+(?:\[\])?)\s+(?P<name>\.\.\.|{IDENT})\b\s*(?P<desc>.*)$",
                   text, re.DOTALL)
    if ldt:  # Eclipse LDT: `@param #cc.Texture2D texture`, `@param openmw.core#GameObject obj`
        return {"name": ldt.group("name"), "type": ldt.group("type"),
                "description": _clean_desc(ldt.group("desc")), "optional": ldt.group("name") == "..."}
    # @param
    mod = re.match(r"^\[(?P<mod>[^\]]*)\]\s*", text)
    ldoc_opt, default = _ldoc_opt(mod.group("mod")) if mod else (False, None)
    if mod:
        text = text[mod.end():]
    m = re.match(rf"^(?P<name>\.\.\.|{IDENT})(?P<q>\?)?(?:\[(?P<mod>[^\]]*)\])?(?P<rest>.*)$", text,
                 re.DOTALL)
    if not m:
        return None
    name = m.group("name")
    rest = m.group("rest")
    if m.group("mod"):
        ldoc_opt, default = _ldoc_opt(m.group("mod"))
    ptype = None
    opt = bool(m.group("q")) or ldoc_opt or name == "..."
    stripped = rest.strip()
    first_word = stripped.split(None, 1)[0] if stripped else ""
    if stripped and (luals or _looks_like_type(first_word, known) and rest[:1].isspace()
                     and first_word.rstrip("?") in _STD_TYPES | known):
        ptype, rest = read_type(stripped)
        ptype, topt = _optional_type(ptype)
        opt = opt or topt
    p = {"name": name, "type": ptype or None, "description": _clean_desc(rest), "optional": opt}
    if default is not None:
        p["default"] = default
    return p


def _ldoc_opt(mod: str) -> tuple[bool, str | None]:
    if mod.startswith("opt"):
        m = re.match(r"^opt\s*=\s*(.*)$", mod)
        return True, (m.group(1).strip() if m else None)
    return False, None


def _returns_from_tag(tag: str, text: str, *, luals: bool) -> list[dict[str, Any]]:
    text = text.strip()
    if tag == "treturn":
        mod = re.match(r"^\[[^\]]*\]\s*", text)
        if mod:
            text = text[mod.end():]
        rtype, rest = read_type(text)
        rtype, _ = _optional_type(rtype)
        return [{"type": rtype or None, "description": _clean_desc(rest)}]
    ldt = re.match(r"^[\w.]*#(?P<type>[\w.]+(?:\[\])?)(?:\s+(?P<desc>.*))?$", text, re.DOTALL)
    if ldt and not luals:  # Eclipse LDT: `@return Texture2D#Texture2D ret`, `@return #number`
        return [{"type": ldt.group("type"), "description": _clean_desc(ldt.group("desc") or "")}]
    if not luals:
        return [{"type": None, "description": _clean_desc(text)}]
    out = []
    while text:
        rtype, rest = read_type(text)
        if not rtype:
            break
        rtype, opt = _optional_type(rtype)
        entry: dict[str, Any] = {"type": rtype, "description": ""}
        if opt:
            entry["optional"] = True
        m = re.match(rf"^[ \t]+(?P<name>\.\.\.|{IDENT})(?=[ \t\n#,]|$)(?P<rest>.*)$", rest, re.DOTALL)
        if m and not rest.lstrip().startswith(("#", ":")):
            entry["name"] = m.group("name")
            rest = m.group("rest")
        if rest.lstrip().startswith(","):  # `@return boolean, nil|-1|-2`
            out.append(entry)
            text = rest.lstrip()[1:].strip()
            continue
        entry["description"] = _clean_desc(rest)
        out.append(entry)
        break
    return out


# ------------------------------------------------------------------------------------------------
# Declarations
# ------------------------------------------------------------------------------------------------


@dataclass
class Decl:
    """A declaration the token walk found: ``kind`` is ``function`` (with params), ``table``
    (``X = {}``), ``alias`` (``M.f = f``) or ``value`` (any other assignment)."""

    kind: str
    name: str  # as written: `love.math.compress`, `BezierCurve:evaluate`, `M.f`
    line: int
    local: bool = False
    params: list[str] = field(default_factory=list)
    target: str | None = None  # for alias: the name assigned


def scan_declarations(tokens: list) -> Iterator[Decl]:
    """Declarations outside any function body and any bracket (``if``/``do`` blocks included),
    in order: ``function a.b()``, ``local function f()``, and assignments that start a line."""
    tokens = [t for t in tokens if t.kind != "comment"]
    stack: list[str] = []  # "function" | "block"
    fdepth = 0
    bdepth = 0  # ( { [ nesting
    prev_line = 0
    n = len(tokens)
    for i in range(n):
        tok = tokens[i]
        kind, text = tok.kind, tok.text
        if kind == "comment":
            continue
        first_on_line = tok.line != prev_line
        prev_line = tok.line + (text.count("\n") if kind in ("string", "long_string") else 0)
        if kind == "op":
            if text in ("(", "{", "["):
                bdepth += 1
            elif text in (")", "}", "]"):
                bdepth = max(0, bdepth - 1)
            continue
        if kind == "keyword" and tok.col == 1 and first_on_line and (fdepth or bdepth) and (
                text == "function" or text == "local" and i + 1 < n and tokens[i + 1].text == "function"):
            # a declaration at column 1 is top level: recover from an unclosed block or
            # bracket above it (a typo must not hide the rest of the file)
            stack.clear()
            fdepth = bdepth = 0
        if kind == "keyword":
            if text == "function":
                if fdepth == 0 and bdepth == 0 and i + 1 < n and tokens[i + 1].kind == "name":
                    local = i > 0 and tokens[i - 1].kind == "keyword" and tokens[i - 1].text == "local"
                    decl = _function_statement(tokens, i, local=local)
                    if decl is not None:
                        yield decl
                stack.append("function")
                fdepth += 1
            elif text == "local":
                if fdepth == 0 and bdepth == 0 and i + 1 < n and tokens[i + 1].kind == "name":
                    decl = _assignment(tokens, i + 1, local=True)
                    if decl is not None:
                        yield decl
                    j = i + 1  # every name `local a, b` declares, assigned or not
                    while j < n and tokens[j].kind == "name":
                        yield Decl("local", tokens[j].text, tokens[j].line, local=True)
                        j += 1
                        while j < n and tokens[j].kind == "op" and tokens[j].text == "<":
                            j += 3  # `<const>` / `<close>` attribute
                        if j < n and tokens[j].kind == "op" and tokens[j].text == ",":
                            j += 1
                        else:
                            break
            elif text in ("do", "if", "repeat"):
                stack.append("block")
            elif text in ("end", "until") and stack:
                if stack.pop() == "function":
                    fdepth -= 1
            continue
        if kind == "name" and fdepth == 0 and bdepth == 0 and first_on_line:
            decl = _assignment(tokens, i, local=False)
            if decl is not None:
                yield decl


def _name_chain(tokens: list, i: int) -> tuple[str, int] | None:
    """``a.b.c`` / ``a.b:c`` starting at token ``i``: the text and the index after it."""
    n = len(tokens)
    if i >= n or tokens[i].kind != "name":
        return None
    parts = [tokens[i].text]
    j = i + 1
    while j + 1 < n and tokens[j].kind == "op" and tokens[j].text in (".", ":") and \
            tokens[j + 1].kind == "name":
        parts.append(tokens[j].text + tokens[j + 1].text)
        j += 2
        if parts[-1].startswith(":"):
            break
    return "".join(parts), j


def _params(tokens: list, i: int) -> tuple[list[str], int]:
    """Parameter names of ``( a, b, ... )`` at token ``i`` (which must be ``(``)."""
    names = []
    j = i + 1
    while j < len(tokens) and not (tokens[j].kind == "op" and tokens[j].text == ")"):
        t = tokens[j]
        if t.kind == "name" or (t.kind == "op" and t.text == "..."):
            names.append(t.text)
        j += 1
    return names, j + 1


def _function_statement(tokens: list, i: int, *, local: bool) -> Decl | None:
    chain = _name_chain(tokens, i + 1)
    if chain is None:
        return None
    name, j = chain
    if j < len(tokens) and tokens[j].kind == "op" and tokens[j].text == "(":
        params, _ = _params(tokens, j)
        return Decl("function", name, tokens[i].line, local=local, params=params)
    return None


def _assignment(tokens: list, i: int, *, local: bool) -> Decl | None:
    """``a.b = function(...)``, ``a.b = {}``, ``a.b = c.d``, ``local x = {}`` at token ``i``."""
    chain = _name_chain(tokens, i)
    if chain is None:
        return None
    name, j = chain
    n = len(tokens)
    if ":" in name or j >= n or tokens[j].kind != "op" or tokens[j].text != "=":
        return None
    line = tokens[i].line
    k = j + 1
    if k >= n:
        return None
    v = tokens[k]
    if v.kind == "keyword" and v.text == "function" and k + 1 < n and tokens[k + 1].text == "(":
        params, _ = _params(tokens, k + 1)
        return Decl("function", name, line, local=local, params=params)
    if v.kind == "op" and v.text == "{":
        close = k + 1 < n and tokens[k + 1].kind == "op" and tokens[k + 1].text == "}"
        return Decl("table" if close else "value", name, line, local=local,
                    target="{}" if close else "{...}")
    rhs = _name_chain(tokens, k)
    if rhs is not None:
        target, after = rhs
        nxt = tokens[after] if after < n else None
        if nxt is not None and nxt.kind == "op" and nxt.text in ("(", "{", '"'):
            if last_seg(target) in ("setmetatable", "class", "new", "extend", "newclass"):
                return Decl("table", name, line, local=local, target=target)
            return Decl("value", name, line, local=local)
        if nxt is None or nxt.kind in ("name", "keyword") or nxt.text == ";":
            if target not in ("nil", "true", "false"):
                return Decl("alias", name, line, local=local, target=target)
    return Decl("value", name, line, local=local)


# ------------------------------------------------------------------------------------------------
# One file
# ------------------------------------------------------------------------------------------------


_SOURCE_DIRS = frozenset("lua lib libs src deps library modules share types meta".split())


def module_name_for(path: Path, root: Path | None) -> str:
    """The name ``require`` gives a file: ``lua/pl/stringx.lua`` -> ``pl.stringx``,
    ``x/init.lua`` -> ``x``; counted after the last source folder (``lua/``, ``lib/``,
    ``src/``, ...) and after a repository folder (``owner__repo``, ``lua-resty-core``). A path
    that is not a name chain (``proxy-cache/strategies/memory.lua``) gives its file's name."""
    try:
        rel = path.relative_to(root) if root is not None else Path(path.name)
    except ValueError:
        rel = Path(path.name)
    parts = list(rel.with_suffix("").parts)
    cut = 0
    for k, part in enumerate(parts[:-1]):
        if part in _SOURCE_DIRS or "__" in part or part in (".", ""):
            cut = k + 1
    parts = parts[cut:]
    while len(parts) > 1 and not re.fullmatch(IDENT, parts[0]):
        parts = parts[1:]  # a leading repository folder: `lua-resty-core/...`
    if parts and parts[-1] == "init" and len(parts) > 1:
        parts = parts[:-1]
    if parts and all(re.fullmatch(IDENT, p) for p in parts):
        return ".".join(parts)
    stem = path.stem if path.stem != "init" else path.parent.name
    return stem if re.fullmatch(IDENT, stem) else ""  # `http-codec.lua`: no Lua name for it


@dataclass
class FileApi:
    records: list[dict[str, Any]]
    functions: int  # public functions and methods found (declared or @function)
    style: str  # "luals" | "ldoc" | "plain"
    notes: list[str] = field(default_factory=list)


def extract_lua_api(code: str, *, source: str = "<lua>", module: str | None = None) -> FileApi:
    """The API records of one Lua file."""
    from luacoder_core.lua import tokenize

    tokens = tokenize(code)
    luals = bool(_LUALS_HINT_RE.search(code))
    ldoc = bool(_LDOC_HINT_RE.search(code)) and not luals
    style = "luals" if luals else ("ldoc" if ldoc or re.search(r"^\s*---?\s*@param\b", code, re.M)
                                   else "plain")

    # doc blocks: runs of comment tokens on consecutive lines
    blocks: list[DocBlock] = []
    run: list[tuple[str, int]] = []
    last_line = -10
    code_lines = {tok.line for tok in tokens if tok.kind != "comment"}
    for tok in tokens:
        if tok.kind != "comment" or tok.line in code_lines:  # not a comment after code
            continue
        pieces = _comment_lines(tok.text)
        if run and tok.line != last_line + 1:
            blocks.append(parse_doc_block(run, luals_file=luals))
            run = []
        run.extend((text, tok.line + k) for k, (text, _doc) in enumerate(pieces))
        last_line = tok.line + len(pieces) - 1
    if run:
        blocks.append(parse_doc_block(run, luals_file=luals))
    by_end = {b.end: b for b in blocks}

    module_tag = None
    for b in blocks:
        for tag in ("module", "classmod", "submodule"):
            v = b.first(tag)
            if v and v.split():
                module_tag = v.split()[0]
                break
        if module_tag:
            break
    short_module = module_tag
    parent_module = next((b.first("parent_module").split()[0] for b in blocks
                          if (b.first("parent_module") or "").split()), None)
    if module_tag and parent_module and "." not in module_tag:
        module_tag = f"{parent_module}.{module_tag}"  # LDT: `@module Node` + `@parent_module cc`
    known_types: set[str] = set()
    aliases: dict[str, list[str]] = {}
    for b in blocks:
        for t, text, _ in b.tags:
            if t in ("class", "alias", "enum"):
                nm = re.match(rf"^\s*\(?(?:exact\)\s*)?({IDENT}(?:\.{IDENT})*)", text.replace("(partial)", ""))
                if nm:
                    known_types.add(nm.group(1))
                    if t == "alias":
                        aliases[nm.group(1)] = _alias_values(text[nm.end():])

    decls = list(scan_declarations(tokens))
    local_names = {d.name for d in decls if d.kind == "local"}
    bare_locals = [d for d in decls if d.kind == "local"]
    decls = [d for d in decls if d.kind != "local"]
    used_blocks: set[int] = set()

    # local tables and what they stand for
    local_class: dict[str, str] = {}
    local_tables: set[str] = set()
    class_blocks: list[DocBlock] = []
    for d in bare_locals:  # `---@class uv.uv_timer_t` over `local timer` (declared, no value)
        b = by_end.get(d.line - 1)
        cls = _class_name(b) if b else None
        if cls and d.name not in local_class:
            local_class[d.name] = cls
            class_blocks.append(b)
            used_blocks.add(id(b))
    for d in decls:
        if d.kind == "table" and "." not in d.name:
            b = by_end.get(d.line - 1)
            cls = _class_name(b) if b else None
            if d.local:
                local_tables.add(d.name)
                if cls:
                    local_class[d.name] = cls
                    class_blocks.append(b)
            elif cls and cls != d.name:
                local_class[d.name] = cls
    returned = re.findall(rf"^return\s+(?:setmetatable\s*\(\s*)?({IDENT})\s*(?:;|,.*\)\s*;?)?\s*(?:--.*)?$",
                          code, re.MULTILINE)  # `return M` / `return setmetatable(timer, timer.mt)`
    returned_name = returned[-1] if returned else None
    if returned_name and returned_name not in local_tables and any(
            d.local and d.name == returned_name and d.kind in ("alias", "value") for d in decls):
        # `local List = utils.stdmt.List` ... `return List`: the module's table
        local_tables.add(returned_name)
    mod_name = module_tag or module or None

    def public_names(declared: str) -> list[str]:
        """The names a declaration is reached by from outside the file ([] when private)."""
        root, sep, rest = re.match(rf"^({IDENT})([.:]?)(.*)$", declared).groups()
        if short_module and module_tag != short_module and root == short_module:
            return [module_tag + sep + rest if sep else module_tag]
        if root in local_names and root not in local_tables and root not in local_class:
            return []  # `lstrip = stringx.lstrip` after `local lstrip`: a private alias
        if root in local_class:
            cls = local_class[root]
            return [cls + sep + rest if sep else cls]
        if module_tag and not sep and root not in local_tables and root not in local_class \
                and root not in local_names and not is_meta and root != module_tag:
            # a global function of an LDoc `@module help` file (an API loaded as a table)
            return [f"{module_tag}.{root}"]
        if root in local_tables:
            if root == returned_name or module_tag:
                names = []
                if mod_name:
                    names.append(mod_name + sep + rest if sep else mod_name)
                last = mod_name.rsplit(".", 1)[-1] if mod_name else None
                if root not in _PRIVATE_LOCALS and (root == last or not mod_name) and \
                        (root + sep + rest) not in names:
                    names.insert(0, root + sep + rest)
                return names
            return []
        return [declared]

    records: list[dict[str, Any]] = []
    functions = 0
    local_funcs: dict[str, tuple[Decl, DocBlock | None]] = {}
    emitted: dict[str, dict[str, Any]] = {}

    is_meta = bool(re.search(r"^\s*---\s*@meta\b", code, re.MULTILINE))

    def add(rec: dict[str, Any]) -> None:
        name = rec["name"]
        if name in emitted:
            old = emitted[name]
            if old.get("kind") in ("module", "field", "class") and \
                    rec.get("kind") in ("function", "method"):
                # `function vim.regex(re)` and `---@class vim.regex`: the function is the
                # record (the class's fields stay on it)
                if old.get("fields") and not rec.get("fields"):
                    rec["fields"] = old["fields"]
                records[records.index(old)] = rec
                emitted[name] = rec
            return
        segments = re.split(r"[.:]", name)
        if any(seg.startswith("_") for seg in segments[1:]):
            return  # `M._helper`, `M.private._x`: private by convention
        if not is_meta and len(segments) > 1 and segments[0] in _STD_ROOTS:
            return  # `os.exit = ...` in a library is a patch of Lua's own API, not the library's
        emitted[name] = rec
        records.append(rec)

    if module_tag:
        header = next(b for b in blocks if b.first("module") or b.first("classmod")
                      or b.first("submodule"))
        rec = _field_record(module_tag, header, source, cls=None, is_table=True)
        rec["source"]["line"] = header.line
        add(rec)
    for b in class_blocks:  # `---@class love.BezierCurve` over `local BezierCurve = {}`
        add(_field_record(_class_name(b) or "", b, source, cls=_class_name(b), is_table=True))
    for d in decls:
        b = by_end.get(d.line - 1)
        if b is not None:
            used_blocks.add(id(b))
        if b is not None and (b.has("local") or b.has("private") or b.has("package")):
            continue
        if d.kind != "function" and _ldoc_function_name(b):
            used_blocks.discard(id(b))  # `@name List:concat` over `List.concat = concat`
            continue
        if d.kind == "function":
            if d.local:
                local_funcs[d.name] = (d, b)
                continue
            names = public_names(d.name)
            if not names or any(seg.startswith("_") and seg not in ("__index", "__call")
                                for seg in re.split(r"[.:]", d.name)[1:]):
                continue
            fn_name = b.first("function") if b is not None else None
            for k, name in enumerate(names):
                rec = _function_record(name, d, b, source, known_types, aliases, style)
                if fn_name and re.fullmatch(IDENT, fn_name.split()[0] if fn_name.split() else "") \
                        and fn_name.split()[0] != last_seg(name):
                    pass
                if k > 0:
                    rec["alias_of"] = names[0]
                add(rec)
                if k == 0:
                    functions += 1
        elif d.kind == "alias" and not d.local:
            target = d.target or ""
            src = emitted.get(target) or next((emitted[n] for n in public_names(target)
                                               if n in emitted), None) if target else None
            if src is None and target in local_funcs:
                ld, lb = local_funcs[target]
                for k, name in enumerate(public_names(d.name)):
                    rec = _function_record(name, ld, lb or b, source, known_types, aliases, style)
                    rec["source"]["line"] = d.line
                    if k > 0:
                        rec["alias_of"] = public_names(d.name)[0]
                    add(rec)
                    if k == 0:
                        functions += 1
                continue
            if src is not None:
                for name in public_names(d.name):
                    rec = copy.deepcopy(src)
                    rec.update(name=name, alias_of=src.get("alias_of", src["name"]),
                               source={"file": source, "line": d.line},
                               kind="method" if ":" in name else src["kind"])
                    rec["signature"] = name + src["signature"][len(src["name"]):]
                    if src.get("signatures"):
                        rec["signatures"] = [name + x[len(src["name"]):] for x in src["signatures"]]
                    add(rec)
        elif d.kind == "value" and not d.local and b is not None and \
                (b.first("type") or "").strip().startswith("fun"):
            # `---@type fun(t: table)` over `lovr.conf = nil`: a callback the API declares
            fp = fun_params(read_type(b.first("type") or "")[0])
            for k, name in enumerate(public_names(d.name)):
                fd = Decl("function", name, d.line, params=[p["name"] for p in (fp[0] if fp else [])])
                rec = _function_record(name, fd, b, source, known_types, aliases, style)
                if fp:
                    typed = {p["name"]: p for p in fp[0]}
                    for p in rec["params"]:
                        if p.get("type") is None and p["name"] in typed:
                            p["type"] = typed[p["name"]]["type"]
                            p["optional"] = p["optional"] or typed[p["name"]]["optional"]
                    rec["signature"] = _signature(name, rec["params"])
                    if not rec["returns"]:
                        rec["returns"] = fp[1]
                if k > 0:
                    rec["alias_of"] = public_names(d.name)[0]
                add(rec)
                if k == 0:
                    functions += 1
        elif d.kind in ("table", "value") and not d.local and b is not None:
            cls = _class_name(b)
            for name in public_names(d.name):
                rec = _field_record(name, b, source, cls=cls, is_table=d.kind == "table")
                add(rec)

    # `return { new = new, free = release }`: the module is the returned table constructor
    tail = re.search(r"^return\s*(\{[^{}]*\})\s*$", code.rstrip(), re.MULTILINE)
    if tail and mod_name and tail.end() >= len(code.rstrip()) - 1:
        for key, value in re.findall(rf"(?:^|[,;{{]\s*)({IDENT})\s*=\s*({IDENT}(?:\.{IDENT})*)\s*(?=[,;}}])",
                                     tail.group(1)):
            name = f"{mod_name}.{key}"
            if name in emitted:
                continue
            if value in local_funcs:
                ld, lb = local_funcs[value]
                rec = _function_record(name, ld, lb, source, known_types, aliases, style)
                add(rec)
                functions += 1
            elif value in emitted:
                rec = copy.deepcopy(emitted[value])
                rec.update(name=name, alias_of=value)
                rec["signature"] = name + rec["signature"][len(value):]
                add(rec)

    # standalone blocks: classes without a table, LDoc @function, annotation-only fields
    for b in blocks:
        if id(b) in used_blocks:
            continue
        fn = _ldoc_function_name(b) or b.first("lfunction")
        if fn and fn.split() and b.first("lfunction") is None and not b.has("local"):
            raw = fn.split()[0]
            if "." not in raw and ":" not in raw and returned_name in local_tables:
                raw = f"{returned_name}.{raw}"  # `@function join` in a module table
            names = public_names(raw) if re.match(rf"^{IDENT}", raw) else []
            if not names and module_tag and "." not in raw:
                names = [f"{module_tag}.{raw}"]
            for k, name in enumerate(names or [raw]):
                d = Decl("function", name, b.end + 1, params=[])
                rec = _function_record(name, d, b, source, known_types, aliases, style)
                if k > 0:
                    rec["alias_of"] = names[0]
                add(rec)
                if k == 0:
                    functions += 1
            continue
        cls = _class_name(b)
        if cls:
            add(_field_record(cls, b, source, cls=cls, is_table=False))

    # the class records gain the methods' owner kind; fields of runtime classes become records
    class_tables = set(local_class.values()) | {d.name for d in decls if d.kind == "table"
                                                 and not d.local}
    for rec in list(records):
        if rec.get("kind") == "module" and rec["name"] in class_tables:
            for f in rec.get("fields", []):
                fname = f"{rec['name']}.{f['name']}"
                if re.fullmatch(rf"{IDENT}(?:\.{IDENT})*", fname) and fname not in emitted:
                    add({"name": fname, "kind": "field", "signature": fname,
                         "type": f.get("type"), "params": [], "returns": [],
                         "description": f.get("description", ""), "examples": [],
                         "deprecated": False, "source": rec["source"]})
    return FileApi(records=records, functions=functions, style=style)


def last_seg(name: str) -> str:
    return re.split(r"[.:]", name)[-1]


def _ldoc_function_name(b: DocBlock | None) -> str | None:
    """The name an LDoc block gives a function declared elsewhere: ``@function name``, or the
    old ``@class function`` + ``@name List:index`` spelling."""
    if b is None:
        return None
    fn = b.first("function")
    if fn and fn.split():
        ldt = re.match(r"^\[parent=#(?P<parent>[\w.]+)\]\s*(?P<name>[\w.:]+)", fn.strip())
        if ldt:  # Eclipse LDT: `@function [parent=#ParticleBatchNode] setTexture`
            self_first = next((text.split()[0] for tag, text, _ in b.tags
                               if tag == "param" and text.split()), None) == "self"
            return ldt.group("parent") + (":" if self_first else ".") + ldt.group("name")
        return fn.split()[0]
    if (b.first("class") or "").split()[:1] == ["function"] and (b.first("name") or "").split():
        return b.first("name").split()[0]
    return None


def _class_name(b: DocBlock | None) -> str | None:
    if b is None or _ldoc_function_name(b):
        return None
    for tag in ("class", "classmod", "type"):
        v = b.first(tag)
        if v and tag != "type":
            m = re.match(rf"^\s*(?:\([^)]*\)\s*)?({IDENT}(?:\.{IDENT})*)", v)
            if m:
                return m.group(1)
    return None


def _alias_values(text: str) -> list[str]:
    """``"fill"|"line"`` or continuation lines ``| "fill" # desc`` -> the literal values."""
    values = []
    for part in re.split(r"\n", text):
        part = part.strip()
        if part.startswith("|"):
            part = part[1:].strip()
            m = re.match(r"^(?:'(\"[^\"]*\")'|(\"[^\"]*\"|'[^']*'|[-\w.]+))", part)
            if m:
                values.append(m.group(1) or m.group(2))
        else:
            for v in split_outside_brackets(read_type(part)[0], "|") if part else []:
                v = v.strip()
                if re.fullmatch(r"\"[^\"]*\"|'[^']*'|-?\d+(?:\.\d+)?|true|false", v):
                    values.append(v)
    return values


def _description(b: DocBlock | None) -> tuple[str, list[str]]:
    """Description paragraphs and the ```lua examples inside them."""
    if b is None:
        return "", []
    examples: list[str] = []
    paras: list[str] = []
    cur: list[str] = []
    code: list[str] | None = None
    for line in b.desc:
        s = line.strip()
        if code is not None:
            if s.startswith("```"):
                if any(x.strip() for x in code):
                    examples.append("\n".join(code).strip("\n") + "\n")
                code = None
            else:
                code.append(line)
            continue
        if s.startswith("```"):
            lang = s[3:].strip().lower()
            code = [] if lang in ("", "lua", "luau") else None
            if code is None:  # a block in another language: skip to its end as prose
                code = []
                code.append("")  # collected but dropped below
                code = None
            continue
        if re.fullmatch(r"\[[^\]]+\]\([^)]*\)", s):  # `[Open in Browser](url)`
            continue
        if not s:
            if cur:
                paras.append(" ".join(cur))
                cur = []
            continue
        cur.append(s)
    if cur:
        paras.append(" ".join(cur))
    return "\n\n".join(paras), examples


def _signature(name: str, params: list[dict[str, Any]]) -> str:
    return f"{name}(" + ", ".join(p["name"] + ("?" if p.get("optional") and p["name"] != "..."
                                               else "") for p in params) + ")"


def _function_record(name: str, d: Decl, b: DocBlock | None, source: str, known: set[str],
                     aliases: dict[str, list[str]], style: str) -> dict[str, Any]:
    luals = b.luals if b is not None else style == "luals"
    documented: dict[str, dict[str, Any]] = {}
    returns: list[dict[str, Any]] = []
    overloads: list[str] = []
    examples: list[str] = []
    generics: list[str] = []
    flags: dict[str, Any] = {}
    deprecated = False
    deprecation = None
    for tag, text, _ in (b.tags if b is not None else []):
        if tag in ("param", "tparam") or (tag in _LDOC_TYPE_TAGS and not luals):
            p = _param_from_tag(tag, text, luals=luals, known=known)
            if p is not None and p["name"] not in ("self",):
                documented.setdefault(p["name"], p)
        elif tag == "vararg":  # EmmyLua's older `---@vararg string`
            vtype, vdesc = read_type(text)
            documented.setdefault("...", {"name": "...", "type": vtype or None,
                                          "description": _clean_desc(vdesc), "optional": True})
        elif tag in ("return", "treturn"):
            returns.extend(_returns_from_tag(tag, text, luals=luals))
        elif tag == "overload":
            fp = fun_params(text.strip())
            if fp is not None:
                overloads.append(_signature(name, [p for p in fp[0] if p["name"] != "self"]))
        elif tag == "usage":
            code = text.strip("\n")
            if code.strip():
                examples.append(_dedent(code) + "\n")
        elif tag == "deprecated":
            deprecated = True
            deprecation = text.strip() or None
        elif tag == "generic":
            generics.extend(g.strip().split(":")[0].strip() for g in text.split(",") if g.strip())
        elif tag in ("nodiscard", "async"):
            flags[tag] = True
        elif tag in ("raise", "error"):
            flags.setdefault("raises", []).append(text.strip())
        elif tag == "see":
            flags.setdefault("see", []).append(text.strip())
    declared = [p for p in d.params if p != "self"]
    params: list[dict[str, Any]] = []
    if declared and len(documented) == len(declared) and not any(n in documented for n in declared):
        # `@tparam string newPath` over `function setPath(_sPath)`: the documented names are
        # the API's (LDoc shows them), matched by position
        declared = list(documented)
    for pname in declared:
        p = documented.pop(pname, None)
        if p is None:
            p = {"name": pname, "type": None, "description": "", "optional": pname == "..."}
        params.append(p)
    if not declared:  # `@function name` with no code, or a declaration without a list
        params = [p for p in documented.values()]
    for p in params:
        values = aliases.get((p.get("type") or "").rstrip("?"))
        if values:
            p["values"] = values
    description, desc_examples = _description(b)
    is_method = ":" in name
    record: dict[str, Any] = {
        "name": name,
        "kind": "method" if is_method else "function",
        "signature": _signature(name, params),
        "params": params,
        "returns": returns,
        "description": description,
        "examples": examples + desc_examples,
        "deprecated": deprecated,
        "source": {"file": source, "line": d.line},
    }
    if overloads:
        record["signatures"] = [record["signature"], *[o for o in overloads
                                                       if o != record["signature"]]]
    if deprecation:
        record["deprecation"] = deprecation
    if generics:
        record["generics"] = generics
    record.update(flags)
    return record


def _field_record(name: str, b: DocBlock, source: str, *, cls: str | None, is_table: bool
                  ) -> dict[str, Any]:
    description, examples = _description(b)
    fields = []
    for tag, text, _ in b.tags:
        if tag == "field":
            m = re.match(rf"^\s*(?:(?:public|protected|private|package)\s+)?"
                         rf"(?P<name>{IDENT}|\[[^\]]+\])(?P<q>\?)?\s+(?P<rest>.*)$", text, re.DOTALL)
            if not m:
                continue
            ftype, rest = read_type(m.group("rest"))
            ftype, opt = _optional_type(ftype)
            if text.lstrip().startswith(("private", "protected", "package")):
                continue
            fields.append({"name": m.group("name"), "type": ftype or None,
                           "description": _clean_desc(rest),
                           "optional": bool(m.group("q")) or opt})
    ftype = b.first("type")
    record: dict[str, Any] = {
        "name": name,
        "kind": "module" if (cls or is_table) else "field",
        "signature": name,
        "params": [],
        "returns": [],
        "description": description,
        "examples": examples,
        "deprecated": b.has("deprecated"),
        "source": {"file": source, "line": b.end + 1},
    }
    if ftype:
        record["type"] = read_type(ftype)[0]
    if fields:
        record["fields"] = fields
    if cls:
        parent = b.first("class") or ""
        m = re.search(r":\s*(.+)$", parent.split("\n")[0])
        if m:
            record["extends"] = [x.strip() for x in split_outside_brackets(m.group(1)) if x.strip()]
    return record


def _dedent(code: str) -> str:
    lines = code.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    indent = min((len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()), default=0)
    return "\n".join(ln[indent:] for ln in lines).rstrip()
