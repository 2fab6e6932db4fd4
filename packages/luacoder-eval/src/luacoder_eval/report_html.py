"""``report.html``: the sweep's report as one self-contained page a person opens from disk.

Beside ``report.md`` every sweep writes ``report.html`` (Jinja2 template
``templates/report.html.j2``; no network: CSS and JS are inline, the plot is an embedded PNG):

* the metrics table (sortable) and the plot;
* the hallucinated names with their closest documented name;
* **per prompt**, the same prompt across every checkpoint side by side, so a reader sees the
  model change;
* **per checkpoint**, every prompt with its output.

Each output is shown with its Lua highlighted (core's lexer, server side), every API reference
marked documented or hallucinated (with the closest documented name, difflib over the API's
names), syntax errors at their line (core's ``check_syntax``, the chunks the report type checks),
and the sandbox's verdicts where problems were run. Everything is read back from the files the
sweep wrote (``results.json`` rows, ``generations/<checkpoint>.jsonl``,
``generations/<checkpoint>.exec.jsonl``), so a page can be rebuilt for any finished sweep.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: prompts shown in the drill-down; a larger sweep says how many were left out
MAX_PROMPTS = 400
#: token kind -> CSS class
TOKEN_CLASSES = {"keyword": "kw", "string": "str", "long_string": "str", "number": "num",
                 "comment": "com", "error": "tokerr"}
_FENCE_RE = re.compile(r"^(?P<fence>```+|~~~+)[ \t]*(?P<info>[^\n`]*)\n(?P<body>.*?)(?:^(?P=fence)[ \t]*$|\Z)",
                       re.DOTALL | re.MULTILINE)
_INLINE_RE = re.compile(r"`([^`\n]+)`")


@dataclass
class RefMark:
    name: str
    documented: bool
    closest: str | None = None


@dataclass
class SampleView:
    """One generation, analysed for display."""

    prompt: str
    output: str
    html: str
    refs: list[RefMark] = field(default_factory=list)
    syntax_ok: bool | None = None  # None: no Lua to check
    syntax_errors: list[dict] = field(default_factory=list)

    @property
    def hallucinated(self) -> int:
        return sum(not r.documented for r in self.refs)


# ------------------------------------------------------------------------------------------------
# Highlighting
# ------------------------------------------------------------------------------------------------


def _pieces(code: str, marks: dict[str, RefMark], roots: set[str]) -> list[tuple[str, str | None, dict]]:
    """``code`` cut into (text, css class, attributes) pieces that cover it exactly."""
    from luacoder_core.lua import tokenize

    starts = [0]
    for line in code.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    tokens = tokenize(code)
    offsets = [starts[t.line - 1] + t.col - 1 for t in tokens]
    pieces: list[tuple[str, str | None, dict]] = []
    pos = 0
    i = 0
    while i < len(tokens):
        tok, start = tokens[i], offsets[i]
        if start > pos:
            pieces.append((code[pos:start], None, {}))
        end_index = i
        mark = None
        if tok.kind == "name" and tok.text in roots and not (
                i > 0 and tokens[i - 1].kind == "op" and tokens[i - 1].text in (".", ":")):
            chain, j = tok.text, i
            candidates = [(chain, j)]
            while (j + 2 < len(tokens) and tokens[j + 1].kind == "op" and tokens[j + 1].text in (".", ":")
                   and tokens[j + 2].kind == "name"):
                chain += tokens[j + 1].text + tokens[j + 2].text
                j += 2
                candidates.append((chain, j))
                if tokens[j - 1].text == ":":
                    break
            for name, last in reversed(candidates):
                if name in marks:
                    mark, end_index = marks[name], last
                    break
        if mark is not None:
            end = offsets[end_index] + len(tokens[end_index].text)
            attrs = {"data-ref": mark.name}
            if mark.documented:
                attrs["title"] = "documented"
            else:
                attrs["title"] = ("hallucinated; closest documented: " + mark.closest
                                  if mark.closest else "hallucinated; no close documented name")
                if mark.closest:
                    attrs["data-closest"] = mark.closest
            pieces.append((code[start:end], "ref doc" if mark.documented else "ref hall", attrs))
            pos = end
            i = end_index + 1
            continue
        end = start + len(tok.text)
        pieces.append((code[start:end], TOKEN_CLASSES.get(tok.kind), {}))
        pos = end
        i += 1
    if pos < len(code):
        pieces.append((code[pos:], None, {}))
    return pieces


def _attrs(attrs: dict) -> str:
    return "".join(f' {k}="{html.escape(str(v), quote=True)}"' for k, v in attrs.items())


def highlight_lua(code: str, marks: dict[str, RefMark] | None = None, roots: Iterable[str] = (),
                  error_line: int | None = None, error_message: str | None = None,
                  first_line: int = 1) -> str:
    """Lua as HTML: one ``<span class="line">`` per line, tokens and references in spans; the
    line ``error_line`` (1-based within ``code``) gets class ``err`` and the message after it."""
    marks = marks or {}
    lines: list[str] = [""]
    for text, cls, attrs in _pieces(code, marks, set(roots)):
        parts = text.split("\n")
        for n, part in enumerate(parts):
            if n:
                lines.append("")
            if part:
                escaped = html.escape(part, quote=False)
                lines[-1] += f'<span class="{cls}"{_attrs(attrs)}>{escaped}</span>' if cls else escaped
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    out = []
    for n, line in enumerate(lines, start=1):
        if error_line is not None and n == error_line:
            msg = html.escape(error_message or "syntax error", quote=True)
            out.append(f'<span class="line err" data-line="{n + first_line - 1}" title="{msg}">{line}'
                       f'<span class="errmsg">\u2190 {msg}</span></span>')
        else:
            out.append(f'<span class="line" data-line="{n + first_line - 1}">{line}</span>')
    if error_line is not None and error_line > len(lines):  # "near <eof>" after the last line
        msg = html.escape(error_message or "syntax error", quote=True)
        out.append(f'<span class="line err" data-line="{error_line}" title="{msg}">'
                   f'<span class="errmsg">\u2190 {msg}</span></span>')
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------
# One sample
# ------------------------------------------------------------------------------------------------


def _marks_for(chunks: list[str], index: Any) -> dict[str, RefMark]:
    from luacoder_eval.metrics.api_match import sample_references

    marks: dict[str, RefMark] = {}
    for name in sample_references(chunks, index):
        documented = index.matches(name)
        marks[name] = RefMark(name, documented, None if documented else index.closest(name))
    return marks


def _block(code: str, marks: dict, roots: set[str], check: bool) -> tuple[str, dict | None]:
    from luacoder_core.lua import check_syntax

    error = None
    if check and code.strip():
        result = check_syntax(code)
        if not result.ok:
            error = {"line": result.line, "message": result.message}
    body = highlight_lua(code, marks, roots, error and error["line"], error and error["message"])
    status = "" if not check else (" bad" if error else " ok")
    return f'<pre class="lua{status}"><code>{body}</code></pre>', error


def analyse_sample(prompt: str, output: str, report_type: Any, index: Any) -> SampleView:
    """Highlight one generation, mark its references and locate its syntax errors."""
    from luacoder_eval.scoring import split_code

    code, syntax_chunks = split_code(report_type, output or "")
    marks = _marks_for(code, index)
    roots = set(index.roots)
    errors: list[dict] = []
    if not getattr(report_type, "chat", False):  # the whole output is Lua (report type code)
        body, error = _block(output or "", marks, roots, check=bool(syntax_chunks))
        if error:
            errors.append(error)
        rendered = body if (output or "").strip() else '<p class="empty">(empty output)</p>'
    else:
        rendered, errors = _render_markdown(output or "", marks, roots, syntax_chunks)
    ok = None if not syntax_chunks else not errors
    return SampleView(prompt, output or "", rendered, list(marks.values()), ok, errors)


def _render_markdown(text: str, marks: dict, roots: set[str], syntax_chunks: list[str]
                     ) -> tuple[str, list[dict]]:
    """Prose escaped (inline code spans highlighted), fenced blocks highlighted; the blocks the
    report type checks for syntax carry their error."""
    checked = [c.strip() for c in syntax_chunks]
    out: list[str] = []
    errors: list[dict] = []
    pos = 0
    for m in _FENCE_RE.finditer(text):
        out.append(_prose(text[pos:m.start()], marks, roots))
        lang = (m.group("info") or "").strip().split(" ")[0].lower()
        body = m.group("body")
        if lang in ("", "lua", "luajit"):
            code = body
            check = code.strip() in checked
            block, error = _block(code.rstrip("\n"), marks, roots, check)
            if error:
                errors.append(error)
            out.append(block)
        else:
            out.append(f'<pre class="other"><code>{html.escape(body, quote=False)}</code></pre>')
        pos = m.end()
    out.append(_prose(text[pos:], marks, roots))
    if not out or not any(o.strip() for o in out):
        return '<p class="empty">(empty output)</p>', errors
    return "".join(out), errors


def _prose(text: str, marks: dict, roots: set[str]) -> str:
    if not text:
        return ""
    out: list[str] = []
    pos = 0
    for m in _INLINE_RE.finditer(text):
        out.append(html.escape(text[pos:m.start()], quote=False))
        inner = "".join(f'<span class="{c}"{_attrs(a)}>{html.escape(t, quote=False)}</span>' if c
                        else html.escape(t, quote=False) for t, c, a in _pieces(m.group(1), marks, roots))
        out.append(f"<code class=\"inline\">{inner}</code>")
        pos = m.end()
    out.append(html.escape(text[pos:], quote=False))
    return f'<div class="prose">{"".join(out)}</div>'


# ------------------------------------------------------------------------------------------------
# The page
# ------------------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    if not path.is_file():
        return rows
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    continue
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "\u2013"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _cell(row: dict, column: str) -> str:
    """A value, with its 95% interval when the sweep computed one (``<column>_ci95``)."""
    text = _fmt(row.get(column))
    interval = row.get(f"{column}_ci95")
    if (isinstance(interval, (list, tuple)) and len(interval) == 2
            and all(isinstance(v, (int, float)) for v in interval)):
        text += f" [{interval[0]:.2f}, {interval[1]:.2f}]"
    return text


def _sort_key(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(float(value))
    return "" if value is None else str(value)


def _exec_views(path: Path) -> list[dict]:
    views = []
    for item in _read_jsonl(path):
        samples = item.get("samples") or []
        views.append({"name": item.get("name"), "n": item.get("n"), "c": item.get("c"),
                      "samples": samples, "completions": item.get("completions") or []})
    return views


def build_context(payload: dict, out_dir: Path, report_type: Any, index: Any) -> dict:
    """Everything the template shows, from a sweep's ``results.json`` payload and its files."""
    from luacoder_eval.report import PLOTTED, metric_columns, pick_best

    rows: list[dict] = payload.get("rows") or []
    metric = payload.get("metric") or "api_match_accuracy"
    config = payload.get("config") or {}
    if "best" in payload:  # the sweep's verdict (it refuses to crown on too little evidence)
        best = next((r for r in rows if r.get("checkpoint") == payload["best"]), None)
    else:
        best = pick_best(rows, metric, int(config.get("min_refs") or 0))
    columns = metric_columns(rows)
    table = []
    for row in rows:
        table.append({"name": row["checkpoint"], "best": best is not None and row is best,
                      "cells": [(_cell(row, c), _sort_key(row.get(c)))
                                for c in ("step", "kind", *columns)]})
    # per checkpoint: its samples, analysed once
    checkpoints: list[dict] = []
    prompt_order: list[str] = []
    by_prompt: dict[str, dict[str, list[SampleView]]] = {}
    all_prompts: set[str] = set()
    for row in rows:
        gen_path = Path(row.get("generations") or out_dir / "generations" / f"{row['checkpoint']}.jsonl")
        if not gen_path.is_absolute() and not gen_path.exists():
            gen_path = out_dir / gen_path
        records = _read_jsonl(gen_path)
        views = []
        for record in records:
            prompt = str(record.get("prompt", ""))
            all_prompts.add(prompt)
            if prompt not in by_prompt:
                if len(prompt_order) >= MAX_PROMPTS:
                    continue
                prompt_order.append(prompt)
                by_prompt[prompt] = {}
            view = analyse_sample(prompt, str(record.get("output") or ""), report_type, index)
            views.append(view)
            by_prompt[prompt].setdefault(row["checkpoint"], []).append(view)
        exec_views = _exec_views(out_dir / "generations" / f"{row['checkpoint']}.exec.jsonl")
        checkpoints.append({
            "name": row["checkpoint"], "step": row.get("step"), "kind": row.get("kind"),
            "best": best is not None and row is best, "samples": views,
            "missing": not gen_path.is_file(), "exec": exec_views,
            "summary": {c: _fmt(row.get(c)) for c in (metric, "syntax_valid_rate", "refs_total")
                        if c in row},
        })
    names = [c["name"] for c in checkpoints]
    prompts = []
    for number, prompt in enumerate(prompt_order, start=1):
        cells = by_prompt[prompt]
        prompts.append({"id": f"p{number}", "text": prompt,
                        "cells": [(name, cells.get(name, [])) for name in names]})
    hallucinated = _hallucinated(rows, best, index)
    plot = out_dir / "metrics.png"
    plot_b64 = base64.b64encode(plot.read_bytes()).decode() if plot.is_file() else None
    return {
        "title": f"luacoder eval report: {len(rows)} checkpoint(s), "
                 f"{config.get('report_type', '?')} prompts",
        "generated": _dt.datetime.now().isoformat(timespec="seconds"),
        "config": {k: config.get(k) for k in ("report_type", "test_data_path", "api_path",
                                              "problems_path", "base_folder", "base_model",
                                              "max_new_tokens", "temperature", "num_samples")
                   if config.get(k) is not None},
        "metric": metric, "best": best, "best_value": _fmt(best.get(metric)) if best else None,
        "best_note": payload.get("best_note"),
        "headers": ["checkpoint", "step", "kind", *columns],
        "numeric": [False, True, False, *[c not in ("kind",) for c in columns]],
        "table": table, "plotted": [c for c in PLOTTED if c in columns],
        "plot_b64": plot_b64, "skipped": payload.get("skipped") or [],
        "hallucinated": hallucinated, "checkpoints": checkpoints, "prompts": prompts,
        "prompts_left_out": len(all_prompts) - len(prompt_order),
        "chat": bool(getattr(report_type, "chat", False)),
    }


def _hallucinated(rows: list[dict], best: dict | None, index: Any, top: int = 30) -> list[dict]:
    totals: dict[str, int] = {}
    closest: dict[str, str | None] = {}
    for row in rows:
        for name, count in (row.get("hallucinated") or {}).items():
            totals[name] = totals.get(name, 0) + int(count)
            example = (row.get("hallucinated_examples") or {}).get(name) or {}
            if closest.get(name) is None:
                closest[name] = example.get("closest") or index.closest(name)
    best_counts = (best or {}).get("hallucinated") or {}
    return [{"name": n, "samples": c, "in_best": best_counts.get(n, 0), "closest": closest.get(n)}
            for n, c in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def render_html(context: dict) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("luacoder_eval", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    return env.get_template("report.html.j2").render(**context)


def write_report_html(path: str | Path, payload: dict, *, report_type: Any, index: Any) -> Path:
    """Render the page for a sweep's payload and write it atomically beside its other outputs."""
    from luacoder_core.records import write_text_atomic

    path = Path(path)
    context = build_context(payload, path.parent, report_type, index)
    write_text_atomic(path, render_html(context))
    return path


def rebuild(out_dir: str | Path, pm: Any) -> Path:
    """Rebuild ``report.html`` of a finished sweep from its ``results.json`` (and files)."""
    from luacoder_eval.api import load_api
    from luacoder_eval.scoring import get_report_type

    out_dir = Path(out_dir)
    payload = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    config = payload.get("config") or {}
    rtype = get_report_type(pm, config.get("report_type", "code"))
    api = load_api(config["api_path"])
    return write_report_html(out_dir / "report.html", payload, report_type=rtype, index=api.index)


__all__ = ["MAX_PROMPTS", "analyse_sample", "build_context", "highlight_lua", "rebuild",
           "render_html", "write_report_html"]
