"""``lua-api``: Lua sources with LuaLS/EmmyLua annotations or LDoc comments, and ``---@meta``
definition files -> API records (see :mod:`luacoder_data.lua_doc` for what is read).

``api-docs``: a mixed folder (``docs/*.md`` and ``library/*.lua``) in one command: markdown
files go through ``markdown-api``'s reader, Lua files through this one, LDoc's HTML pages
through :mod:`luacoder_data.ldoc_html`, Sphinx-style reStructuredText through
:mod:`luacoder_data.rst_api`, into one output where a name documented in several
keeps its richest record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from luacoder_core.components import Converter
from luacoder_core.errors import InputError

from luacoder_data.converters.markdown_api import (
    _MARKDOWN_SUFFIXES,
    MarkdownApiReader,
    _expand_inputs,
    head_text,
)
from luacoder_data.options import common_params, open_output
from luacoder_data.outputs import Output

LUA_SUFFIXES = (".lua",)
HTML_SUFFIXES = (".html", ".htm")
RST_SUFFIXES = (".rst", ".rest")


def _roots(inputs: list[str]) -> dict[str, Path]:
    return {raw: Path(raw) for raw in inputs if Path(raw).is_dir()}


def _module_root(path: Path, inputs: list[str]) -> Path:
    """The folder a file's module name is counted from: the input folder holding it (its
    ``lua/`` prefix dropped by :func:`module_name_for`), else the file's own folder."""
    for root in _roots(inputs).values():
        try:
            path.resolve().relative_to(root.resolve())
            return root
        except ValueError:
            continue
    return path.parent


class LuaApiReader:
    """Reads ``.lua`` files into a :class:`MarkdownApiReader`'s collector (one name, one
    record: the richest; every signature kept)."""

    def __init__(self, collector: MarkdownApiReader, inputs: list[str], *,
                 module_names: str = "records") -> None:
        self.collector = collector
        self.inputs = inputs
        self.module_names = module_names
        self.functions = 0
        self.styles: dict[str, int] = {}

    def read(self, path: Path, out: Output) -> int:
        from luacoder_core.records import read_text

        from luacoder_data.lua_doc import extract_lua_api, module_name_for

        head = head_text(path, 4096)
        if path.suffix.lower() != ".lua":
            self.collector.notes.append(
                f"{path}: not a .lua file; "
                + ("markdown is read by `markdown-api` (or `api-docs` for both)"
                   if path.suffix.lower() in _MARKDOWN_SUFFIXES else "`lua-api` reads Lua sources"))
            return 0
        if not head.strip():
            self.collector.notes.append(f"{path}: empty file (no text at all)")
            return 0
        code = read_text(path)
        module = module_name_for(path, _module_root(path, self.inputs))
        api = extract_lua_api(code, source=str(path), module=module)
        self.functions += api.functions
        self.styles[api.style] = self.styles.get(api.style, 0) + 1
        if self.module_names == "attach":
            by_name = {r["name"]: r for r in api.records if not r.get("alias_of")}
            for record in api.records:
                owner = by_name.get(record.get("alias_of") or "")
                if owner is not None:
                    owner.setdefault("aliases", []).append(
                        {"name": record["name"], "signature": record["signature"]})
        n = 0
        for record in api.records:
            if record.get("alias_of") and self.module_names == "attach":
                continue
            out.count_read()
            self.collector._add(record, out)
            n += 1
        if not n:
            self.collector.notes.append(
                f"{path}: no public API: no annotated or documented function, method, class or "
                "field is visible from outside this file (local functions are private)")
        return n


_MODULE_NAMES = click.Option(
    ["--module-names"], type=click.Choice(["records", "attach"]), default="records",
    show_default=True,
    help="A function reached by two names (`stringx.strip` declared in module `pl.stringx`): "
         "write both as records (the second with `alias_of`), or keep the second in `aliases`.")


class LuaApiConverter(Converter):
    """Lua sources (files, folders, globs) with LuaLS annotations or LDoc comments -> API
    records."""

    summary = ("Lua sources with LuaLS/EmmyLua annotations or LDoc comments, ---@meta "
               "definition files (files, folders, globs) -> API records.")
    output_kind = "api"

    def params(self) -> list[click.Parameter]:
        return [_MODULE_NAMES,
                click.Option(["--keep-duplicates"], is_flag=True,
                             help="Keep every record of a name declared twice; by default the "
                                  "richest is kept and the others counted as duplicates."),
                *common_params()]

    def run(self, inputs: list[str], output: str, *, module_names: str = "records",
            keep_duplicates: bool = False, **options: Any):
        paths, notes = _expand_inputs(inputs, LUA_SUFFIXES)
        notes = [n for n in notes if ".lua file(s) not read" not in n]
        out = open_output(output, kind="api", name="lua-api", options=options)
        with out:
            collector = MarkdownApiReader(keep_duplicates=keep_duplicates)
            reader = LuaApiReader(collector, inputs, module_names=module_names)
            for path in paths:
                reader.read(path, out)
            collector.finish(out)
            out.summary.extra["files"] = len(paths)
            out.summary.extra["functions"] = reader.functions
            out.summary.extra["styles"] = reader.styles
            _finish(out, notes + collector.notes, paths, "lua-api")
        return out.summary


class ApiDocsConverter(Converter):
    """A mixed reference (markdown pages and Lua sources, files or folders) -> API records."""

    summary = ("API reference of any kind in one go: markdown files go to markdown-api's "
               "reader, .lua files to lua-api's, LDoc HTML pages, Sphinx-style "
               "reStructuredText and Vim help files (doc/*.txt) to their readers -> API records.")
    output_kind = "api"

    def params(self) -> list[click.Parameter]:
        return [_MODULE_NAMES,
                click.Option(["--keep-duplicates"], is_flag=True,
                             help="Keep every record of a name documented twice."),
                *common_params()]

    def run(self, inputs: list[str], output: str, *, module_names: str = "records",
            keep_duplicates: bool = False, **options: Any):
        paths, notes = _expand_inputs(inputs, _MARKDOWN_SUFFIXES + LUA_SUFFIXES + HTML_SUFFIXES
                                      + RST_SUFFIXES + (".txt",))
        out = open_output(output, kind="api", name="api-docs", options=options)
        with out:
            collector = MarkdownApiReader(keep_duplicates=keep_duplicates)
            lua = LuaApiReader(collector, inputs, module_names=module_names)
            kinds = {"markdown": 0, "lua": 0, "ldoc-html": 0, "rst": 0}
            for path in paths:
                suffix = path.suffix.lower()
                if suffix in LUA_SUFFIXES:
                    lua.read(path, out)
                    kinds["lua"] += 1
                elif suffix in HTML_SUFFIXES:
                    kinds["ldoc-html"] += _read_ldoc_html(path, collector, out)
                elif suffix in RST_SUFFIXES:
                    kinds["rst"] += _read_rst(path, collector, out)
                else:
                    collector.read(path, out)
                    kinds["markdown"] += 1
            collector.finish(out)
            out.summary.extra["files"] = kinds
            _finish(out, notes + collector.notes, paths, "api-docs")
        return out.summary


def _read_ldoc_html(path: Path, collector: MarkdownApiReader, out: Output) -> int:
    """One LDoc HTML page (``docs/libraries/pl.stringx.html``) into the collector; other HTML
    pages are named in a note."""
    from luacoder_core.records import read_text

    from luacoder_data.ldoc_html import extract_ldoc_html, is_ldoc_html

    text = read_text(path)
    if not is_ldoc_html(text):
        collector.notes.append(f"{path}: an HTML page that is not LDoc's output; no converter "
                               "reads it (convert it to markdown first)")
        return 0
    _module, records = extract_ldoc_html(text, source=str(path))
    for record in records:
        out.count_read()
        collector._add(record, out)
    if not records:
        collector.notes.append(f"{path}: LDoc HTML page without functions (an index or topic page)")
    return 1 if records else 0


def _read_rst(path: Path, collector: MarkdownApiReader, out: Output) -> int:
    """A reStructuredText page with Sphinx domain directives (``.. function:: fio.open(...)``)."""
    from luacoder_core.records import read_text

    from luacoder_data.rst_api import extract_rst_api, looks_like_sphinx_rst

    text = read_text(path)
    if not looks_like_sphinx_rst(text):
        collector.notes.append(f"{path}: reStructuredText without `.. function::` directives; "
                               "convert it to markdown first (`pandoc -f rst -t gfm`)")
        return 0
    records = extract_rst_api(text, source=str(path))
    for record in records:
        out.count_read()
        collector._add(record, out)
    return 1 if records else 0


def _finish(out: Output, notes: list[str], paths: list[Path], name: str) -> None:
    if out.summary.written or out.summary.rejected:
        for note in notes:
            click.echo(f"{name}: {note}", err=True)
    else:
        raise InputError("no API record found in any input:\n  " + "\n  ".join(
            notes or [f"{p}: no API entries" for p in paths] or ["no input file"]))
