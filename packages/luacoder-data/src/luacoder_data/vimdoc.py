"""Vim help files (vimdoc, ``doc/*.txt``: Neovim's ``runtime/doc/lua.txt`` and most Neovim
plugins' references) -> API records.

An entry is a line at column 0 holding a signature or a name, with its help tags on the right
(``vim.cmd({command})            *vim.cmd()*``), or a line of tags alone followed by the
signature. Its body is indented: a description, ``Parameters: ~`` with ``• {name}  (`type`)
text`` items, ``Return: ~`` with ``(`type`) text``, and examples between ``>lua`` and ``<``.
A tag naming the entry in full (``*telescope.builtin.find_files()*`` over
``builtin.find_files({opts})``) gives the record its name.
"""

from __future__ import annotations

import re
from typing import Any

_TAGS_RE = re.compile(r"(?:\s|^)(\*[^*\s|]+\*)(?=\s|$)")
_ENTRY_RE = re.compile(r"^(?P<head>\S.*?)(?P<tags>(?:\s+\*[^*\s|]+\*)+)\s*$")
_TAGS_ONLY_RE = re.compile(r"^\s+(?:\*[^*\s|]+\*\s*)+$")
_LABEL_RE = re.compile(r"^\s*(?P<label>[A-Z][A-Za-z ]*):\s*~\s*$")
_SEPARATOR_RE = re.compile(r"^[=-]{20,}\s*$")
_MODELINE_RE = re.compile(r"vim:.*\bft=help\b")
_PARAM_ITEM_RE = re.compile(r"^\s*[•*-]\s+\{(?P<name>[^}]+)\}\s*(?:\(`?(?P<type>[^`]*?)`?\))?\s*(?P<desc>.*)$")
_RETURN_RE = re.compile(r"^\s*\(`?(?P<type>[^`]*?)`?\)\s*(?P<desc>.*)$")


def looks_like_vimdoc(text: str) -> bool:
    """A Vim help file: a ``vim:...ft=help`` modeline, or several entries with help tags and
    ``Parameters: ~`` / ``Return: ~`` labels."""
    if _MODELINE_RE.search(text[-2000:]) or _MODELINE_RE.search(text[:2000]):
        return True
    tags = len(re.findall(r"\*[\w.:-]+\(\)\*\s*$", text, re.MULTILINE))
    labels = len(re.findall(r"^\s+(?:Parameters|Return|Returns):\s*~\s*$", text, re.MULTILINE))
    return tags >= 2 and labels >= 1


def _dedent(lines: list[str]) -> list[str]:
    widths = [len(ln) - len(ln.lstrip(" ")) for ln in lines if ln.strip() and ln.strip() != "<"]
    cut = min(widths) if widths else 0
    return [ln[min(cut, len(ln) - len(ln.lstrip(" "))):] if ln.strip() else "" for ln in lines]


def extract_vimdoc(text: str, *, source: str = "<vimdoc>") -> list[dict[str, Any]]:
    """The API records of one Vim help file."""
    from luacoder_data.converters.markdown_api import _is_api_name, parse_signature

    lines = text.replace("\r\n", "\n").replace("\t", "        ").split("\n")
    starts: list[tuple[int, str, list[str]]] = []  # (line of the signature, head, tags)
    i = 0
    in_code = False
    while i < len(lines):
        line = lines[i]
        if in_code:
            if line.strip() == "<" or (line[:1] not in (" ", "") and not line.startswith("<")):
                in_code = False
            i += 1
            continue
        if re.search(r"(?:^|\s)>(?:[a-z]+)?\s*$", line):  # `Example: >lua`
            in_code = True
            i += 1
            continue
        m = _ENTRY_RE.match(line)
        if m and not line.startswith(" "):
            starts.append((i, m.group("head").strip(), _TAGS_RE.findall(m.group("tags"))))
        elif _TAGS_ONLY_RE.match(line) and i + 1 < len(lines) and lines[i + 1][:1] not in (" ", "") \
                and not _ENTRY_RE.match(lines[i + 1]):
            starts.append((i + 1, lines[i + 1].strip(), _TAGS_RE.findall(line)))
            i += 1
        i += 1
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for k, (at, head, tags) in enumerate(starts):
        end = starts[k + 1][0] - (1 if k + 1 < len(starts) and _TAGS_ONLY_RE.match(
            lines[starts[k + 1][0] - 1]) else 0) if k + 1 < len(starts) else len(lines)
        body: list[str] = []
        for ln in lines[at + 1:end]:
            if _SEPARATOR_RE.match(ln) or (ln[:1] not in (" ", "") and not ln.startswith("<")) \
                    or _MODELINE_RE.search(ln):
                break
            body.append(ln)
        tag_names = [t.strip("*") for t in tags]
        sig = parse_signature(head, allow_spaced_bare=True)
        if sig is not None and _is_api_name(sig.name):
            name = sig.name
        elif re.fullmatch(r"[A-Za-z_][\w]*(?:[.:][A-Za-z_]\w*)+", head) and head in tag_names:
            name = head  # `vim.g   *vim.g*`: a field
        else:
            continue  # a section line (`Lua module: vim   *lua-vim*`) or an option
        for t in tag_names:  # `*telescope.builtin.find_files()*` over `builtin.find_files()`
            full = t[:-2] if t.endswith("()") else t
            if full != name and (full.endswith("." + name) or full.endswith(":" + name)) \
                    and _is_api_name(full):
                if sig is not None:
                    sig.text = full + sig.text[len(name):]
                name = full
                break
        if name in seen:
            continue
        seen.add(name)
        records.append(_record(name, sig, _dedent(body), source, at + 1))
    return records


def _record(name: str, sig, body: list[str], source: str, line: int) -> dict[str, Any]:
    desc: list[str] = []
    params: list[dict[str, Any]] = []
    returns: list[dict[str, Any]] = []
    examples: list[str] = []
    mode = "description"
    code: list[str] | None = None
    code_lang = ""
    for ln in body:
        if code is not None:
            if ln.strip() == "<" or (ln and not ln.startswith(" ") and ln.strip()):
                if code_lang in ("lua", "") and any(c.strip() for c in code):
                    examples.append("\n".join(_dedent(code)).strip("\n") + "\n")
                code = None
                if ln.strip() == "<":
                    continue
            else:
                code.append(ln)
                continue
        opener = re.search(r"(?:^|\s)>(?P<lang>[a-z]*)\s*$", ln)
        if opener:
            before = ln[: opener.start()].strip()
            if before and mode == "description" and not _LABEL_RE.match(before + " ~"):
                desc.append(before)
            code, code_lang = [], opener.group("lang")
            continue
        label = _LABEL_RE.match(ln)
        if label:
            word = label.group("label").strip().lower()
            mode = ("params" if word.startswith("param") else
                    "returns" if word.startswith("return") else "other")
            continue
        if mode == "description":
            desc.append(ln.strip())
        elif mode == "params":
            item = _PARAM_ITEM_RE.match(ln)
            if item and ln.lstrip()[:1] in "•*-" and len(ln) - len(ln.lstrip()) <= 4:
                ptype = (item.group("type") or "").strip() or None
                optional = bool(ptype and ptype.endswith("?"))
                if optional:
                    ptype = ptype[:-1] or None
                params.append({"name": item.group("name"), "type": ptype,
                               "description": item.group("desc").strip(), "optional": optional})
            elif params and ln.strip():
                params[-1]["description"] = (params[-1]["description"] + " " + ln.strip()).strip()
        elif mode == "returns":
            r = _RETURN_RE.match(ln)
            if r and len(ln) - len(ln.lstrip()) <= 4:
                returns.append({"type": r.group("type").strip() or None,
                                "description": r.group("desc").strip()})
            elif returns and ln.strip():
                returns[-1]["description"] = (returns[-1]["description"] + " " + ln.strip()).strip()
            elif ln.strip():
                returns.append({"type": None, "description": ln.strip()})
    if code and code_lang in ("lua", "") and any(c.strip() for c in code):
        examples.append("\n".join(_dedent(code)).strip("\n") + "\n")
    paragraphs: list[str] = []
    current: list[str] = []
    for ln in desc:
        if not ln:
            if current:
                paragraphs.append(" ".join(current))
                current = []
        else:
            current.append(ln)
    if current:
        paragraphs.append(" ".join(current))
    description = "\n\n".join(paragraphs)
    has_call = sig is not None and sig.has_call
    if has_call:
        sig_params = {p["name"]: p for p in sig.params}
        names = [p["name"] for p in params]
        for p in sig.params:  # parameters the signature has but the body does not list
            if p["name"] not in names and not p.get("literal"):
                params.append({"name": p["name"], "type": p.get("type"), "description": "",
                               "optional": bool(p.get("optional"))})
        for p in params:
            if sig_params.get(p["name"], {}).get("optional"):
                p["optional"] = True
        order = [p["name"] for p in sig.params]
        params.sort(key=lambda p: order.index(p["name"]) if p["name"] in order else len(order))
        if p_vararg := next((p for p in params if p["name"] == "..."), None):
            p_vararg["optional"] = True
    record: dict[str, Any] = {
        "name": name,
        "kind": ("method" if ":" in name else "function") if has_call else "field",
        "signature": sig.text if has_call else name,
        "params": params if has_call else [],
        "returns": returns,
        "description": description,
        "examples": examples,
        "deprecated": bool(re.search(r"^\s*deprecated\b", description, re.IGNORECASE)),
        "source": {"file": source, "line": line},
    }
    return record
