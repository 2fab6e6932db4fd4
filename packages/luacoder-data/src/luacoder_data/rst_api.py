"""API records from reStructuredText written with Sphinx's domain directives (Tarantool's
reference, many Sphinx-built Lua docs)::

    .. module:: fio

    .. function:: basename(path-name[, suffix])

        Split a path into ...

        :param string path-name: path name
        :param string suffix: suffix
        :return: file name
        :rtype:  string

    .. class:: file-handle

        .. method:: close()

A line reader, not a full reStructuredText parser (docutils would need Sphinx's directives
registered to read these files at all): a directive line, then its indented body with the
description, the ``:param:``/``:return:``/``:rtype:`` field list and ``.. code-block:: lua``
examples. Other directives and prose are skipped.
"""

from __future__ import annotations

import re
from typing import Any

_DIRECTIVE_RE = re.compile(
    r"^(?P<indent>\s*)\.\.\s+(?:lua:)?(?P<kind>module|function|method|class|data|attribute|"
    r"staticmethod|classmethod)::\s*(?P<text>.+?)\s*$")
_FIELD_RE = re.compile(r"^:(?P<key>param|parameter|arg|argument|type|return|returns|rtype|"
                       r"raises?)(?:\s+(?P<arg>[^:]+))?:\s*(?P<text>.*)$")
_IDENT_CHAIN = re.compile(r"^[A-Za-z_][\w]*(?:[.:][A-Za-z_][\w]*)*$")


def looks_like_sphinx_rst(text: str) -> bool:
    return bool(re.search(r"^\s*\.\.\s+(?:lua:)?(?:function|method|module|class)::", text,
                          re.MULTILINE))


def _split_args(args: str) -> list[dict[str, Any]]:
    """``path-name[, suffix]`` / ``partial-string [, partial-string ...]`` -> parameters."""
    params: list[dict[str, Any]] = []
    depth = 0
    token = ""
    optional_at: bool | None = None
    for ch in args + ",":
        if ch == "[":
            depth += 1
            continue
        if ch == "]":
            depth = max(0, depth - 1)
            continue
        if ch == ",":
            name = token.strip()
            if name:
                if name.endswith("..."):
                    name = name[:-3].strip() or "..."
                    if name != "..." and not any(p["name"] == name for p in params):
                        params.append({"name": name, "type": None, "description": "",
                                       "optional": bool(optional_at)})
                    name = "..."
                if not any(p["name"] == name for p in params):
                    params.append({"name": name, "type": None, "description": "",
                                   "optional": bool(optional_at) or name == "..."})
            token = ""
            optional_at = None
            continue
        if optional_at is None and ch.strip():
            optional_at = depth > 0
        token += ch
    return params


def extract_rst_api(text: str, *, source: str) -> list[dict[str, Any]]:
    lines = text.replace("\r\n", "\n").split("\n")
    module: str | None = None
    klass: tuple[int, str] | None = None  # (indent, class name)
    records: list[dict[str, Any]] = []
    i = 0
    while i < len(lines):
        m = _DIRECTIVE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        indent = len(m.group("indent").expandtabs(4))
        kind, head = m.group("kind"), m.group("text")
        if klass is not None and indent <= klass[0]:
            klass = None
        if kind == "module":
            module = head.split()[0]
            i += 1
            continue
        if kind == "class":
            name = head.split("(")[0].strip()
            klass = (indent, name)
            i += 1
            continue
        # the body: lines indented deeper than the directive
        body: list[str] = []
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or
                                  len(lines[j]) - len(lines[j].lstrip()) > indent):
            if _DIRECTIVE_RE.match(lines[j]) and kind != "data":
                break
            body.append(lines[j])
            j += 1
        records.append(_record(kind, head, body, module, klass[1] if klass else None, source,
                               i + 1))
        i = j
    return [r for r in records if r is not None]


def _record(kind: str, head: str, body: list[str], module: str | None, klass: str | None,
            source: str, line: int) -> dict[str, Any] | None:
    m = re.match(r"^(?P<name>[^\s(]+)\s*(?:\((?P<args>.*)\))?\s*(?:->\s*(?P<ret>.+))?$", head)
    if not m:
        return None
    short = m.group("name")
    method = kind in ("method", "staticmethod", "classmethod") or (":" in short)
    if ":" in short or "." in short:
        name = short
    elif method and klass and _IDENT_CHAIN.match(klass):
        name = f"{klass}:{short}"
    elif not method and module and not short.startswith(module + "."):
        name = f"{module}.{short}"
    else:
        name = short
    params = _split_args(m.group("args") or "") if m.group("args") is not None else []
    returns: list[dict[str, Any]] = []
    desc: list[str] = []
    examples: list[str] = []
    ptypes: dict[str, str] = {}
    k = 0
    while k < len(body):
        s = body[k].strip()
        f = _FIELD_RE.match(s)
        if f:
            text = f.group("text").strip()
            k += 1
            while k < len(body) and body[k].strip() and not _FIELD_RE.match(body[k].strip()) \
                    and len(body[k]) - len(body[k].lstrip()) > len(body[k - 1]) - len(body[k - 1].lstrip()) - 1:
                text += " " + body[k].strip()
                k += 1
            key, arg = f.group("key"), (f.group("arg") or "").strip()
            if key in ("param", "parameter", "arg", "argument") and arg:
                parts = arg.split()
                pname, ptype = parts[-1], " ".join(parts[:-1]) or None
                p = next((p for p in params if p["name"] == pname), None)
                if p is None:
                    p = {"name": pname, "type": None, "description": "", "optional": False}
                    params.append(p)
                p["type"] = ptype or p["type"]
                p["description"] = _inline(text)
            elif key == "type" and arg:
                ptypes[arg] = text
            elif key in ("return", "returns"):
                returns.append({"type": None, "description": _inline(text)})
            elif key == "rtype":
                if returns:
                    returns[-1]["type"] = _inline(text)
                else:
                    returns.append({"type": _inline(text), "description": ""})
            continue
        cb = re.match(r"^\.\.\s+code-block::\s*(?P<lang>\S*)", s)
        if cb:
            indent = len(body[k]) - len(body[k].lstrip())
            k += 1
            code: list[str] = []
            while k < len(body) and (not body[k].strip() or
                                     len(body[k]) - len(body[k].lstrip()) > indent):
                code.append(body[k])
                k += 1
            if cb.group("lang").lower() in ("lua", "luajit") and any(c.strip() for c in code):
                pad = min(len(c) - len(c.lstrip()) for c in code if c.strip())
                examples.append("\n".join(c[pad:] for c in code).strip("\n") + "\n")
            continue
        if s.startswith(".. ") or re.match(r"^\*\*[^*]+:\*\*$", s):
            k += 1
            continue
        desc.append(s)
        k += 1
    for pname, ptype in ptypes.items():
        p = next((p for p in params if p["name"] == pname), None)
        if p is not None and not p["type"]:
            p["type"] = ptype
    if m.group("ret") and not returns:
        returns = [{"type": m.group("ret").strip(), "description": ""}]
    paragraphs = "\n".join(desc).strip().split("\n\n")
    description = "\n\n".join(_inline(" ".join(p.split())) for p in paragraphs if p.strip())
    args = m.group("args")
    return {
        "name": name,
        "kind": "method" if method else ("field" if kind in ("data", "attribute") else "function"),
        "signature": f"{name}({args})" if args is not None else name,
        "params": params, "returns": returns, "description": description,
        "examples": examples, "deprecated": bool(re.search(r"\.\.\s+deprecated::", "\n".join(body))),
        "source": {"file": source, "line": line},
    }


def _inline(text: str) -> str:
    """reStructuredText inline markup out: ``code``, :ref:`x <y>`, *em*."""
    text = re.sub(r":\w+:`([^`<]*?)\s*(?:<[^>]*>)?`", r"\1", text)
    text = re.sub(r"``([^`]*)``", r"`\1`", text)
    return text.strip()
