"""``report.html``: highlighting and marks (pure Python), the page a sweep writes, and the page as
a real browser renders it (Debian's ``chromium --headless --dump-dom``; skipped without one)."""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from luacoder_eval.api import load_api
from luacoder_eval.report_html import analyse_sample, highlight_lua, write_report_html
from luacoder_eval.report_types.code import CodeReport
from luacoder_eval.report_types.markdown import MarkdownReport


@pytest.fixture
def api(tween_api):
    return load_api(tween_api)


def test_code_sample_marks_references_and_the_syntax_error_line(api):
    output = "local t = tween.new(1, obj, {x = 1})\ntween.fly(obj, 2\nt:update(0.1)\n"
    view = analyse_sample("-- make a tween\n", output, CodeReport(), api.index)
    refs = {r.name: r for r in view.refs}
    assert refs["tween.new"].documented is True
    assert refs["tween.fly"].documented is False and refs["tween.fly"].closest is not None
    assert view.hallucinated == 1
    assert view.syntax_ok is False
    assert view.syntax_errors[0]["line"] == 3  # Lua reports the unclosed call where it notices
    page = view.html
    assert '<span class="ref doc" data-ref="tween.new" title="documented">tween.new</span>' in page
    assert re.search(r'<span class="ref hall" data-ref="tween.fly" title="hallucinated; closest '
                     r'documented: [^"]+" data-closest="[^"]+">tween.fly</span>', page)
    err = re.findall(r'<span class="line err" data-line="(\d+)"', page)
    assert err == ["3"]
    # every character of the output survives the markup, in order
    text = html.unescape(re.sub(r"<span class=\"errmsg\">.*?</span>|<[^>]+>", "", page))
    assert text.replace("\n", "") == output.replace("\n", "")


def test_highlight_keeps_comments_strings_and_keywords_apart():
    code = 'local s = "tween.fake" -- tween.fly in a comment\nif x then return 1 end'
    out = highlight_lua(code, {}, {"tween"})
    assert '<span class="kw">local</span>' in out and '<span class="kw">end</span>' in out
    assert '<span class="str">&quot;tween.fake&quot;</span>' in out or \
        '<span class="str">"tween.fake"</span>' in out
    assert '<span class="com">-- tween.fly in a comment</span>' in out
    assert out.count('class="line"') == 2


def test_markdown_answer_blocks_and_inline_spans(api):
    answer = ("Use `tween.new` or `tween.make`:\n\n```lua\nlocal t = tween.new(1, o, {x = 1})\n```\n\n"
              "```python\nprint('not lua')\n```\n")
    view = analyse_sample("How do I create a tween?", answer, MarkdownReport(), api.index)
    assert {r.name: r.documented for r in view.refs} == {"tween.new": True, "tween.make": False}
    assert view.syntax_ok is True
    assert '<pre class="lua ok">' in view.html and '<pre class="other">' in view.html
    assert '<code class="inline"><span class="ref hall" data-ref="tween.make"' in view.html
    bad = analyse_sample("q", "```lua\nlocal = 1\n```", MarkdownReport(), api.index)
    assert bad.syntax_ok is False and '<pre class="lua bad">' in bad.html
    assert analyse_sample("q", "no code at all", MarkdownReport(), api.index).syntax_ok is None


def _fake_sweep(out: Path, api_path: Path) -> dict:
    """A finished sweep's files as ``luacoder eval run`` leaves them: three checkpoints that get
    better, two prompts, exec verdicts for the last one."""
    outputs = {
        "base": ["x = = tween", "?? tween.fly"],
        "checkpoint-10": ["local t = tween.make(1, o)\n", "tween.new(1, o, {y = 2}\n"],
        "final": ["local t = tween.new(1, o, {x = 1})\n", "local e = tween.easing.linear\n"],
    }
    prompts = ["-- a tween that moves x\n", "-- ease linearly\n"]
    gens = out / "generations"
    gens.mkdir(parents=True)
    rows = []
    for step, (name, texts) in enumerate(outputs.items()):
        path = gens / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"prompt": p, "output": t, "checkpoint": name, "sample": 0}) + "\n"
                                for p, t in zip(prompts, texts)))
        good = {"base": 0.0, "checkpoint-10": 0.5, "final": 1.0}[name]
        rows.append({"checkpoint": name, "step": step * 10, "kind": "final" if name == "final" else
                     ("base" if name == "base" else "checkpoint"), "api_match_accuracy": good,
                     "syntax_valid_rate": good, "refs_total": 2,
                     "api_match_accuracy_ci95": [max(0.0, good - 0.4), min(1.0, good + 0.3)],
                     "hallucinated": {"tween.fly": 1} if name == "base" else
                     ({"tween.make": 1} if name == "checkpoint-10" else {}),
                     "hallucinated_examples": {"tween.make": {"closest": "tween.new"}},
                     "generations": str(path)})
    (gens / "final.exec.jsonl").write_text(json.dumps(
        {"name": "add", "n": 2, "c": 1, "samples": [
            {"passed": True, "kind": "pass", "message": ""},
            {"passed": False, "kind": "assertion", "message": "expected 3, got 4"}],
         "completions": ["  return a + b\nend", "  return a + b + 1\nend"]}) + "\n")
    payload = {"metric": "api_match_accuracy", "best": "final", "rows": rows, "skipped": [
        {"checkpoint": "checkpoint-15", "path": "x", "reason": "half written"}],
        "config": {"report_type": "code", "api_path": str(api_path), "test_data_path": "p.csv",
                   "base_folder": str(out.parent)}}
    (out / "results.json").write_text(json.dumps(payload))
    return payload


def test_page_from_a_sweeps_files(tmp_path, tween_api, api):
    out = tmp_path / "eval"
    payload = _fake_sweep(out, tween_api)
    page_path = write_report_html(out / "report.html", payload, report_type=CodeReport(), index=api.index)
    page = page_path.read_text()
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    assert page.count('<tr class="best" data-checkpoint="final">') == 1
    assert 'id="p1"' in page and 'id="p2"' in page and 'id="p3"' not in page
    assert 'id="ckpt-checkpoint-10"' in page
    assert "expected 3, got 4" in page  # exec verdicts of the final checkpoint
    assert "half written" in page
    assert ">0.500 [0.10, 0.80]</td>" in page  # a value with its 95% interval
    # the sweep's verdict is the page's: no crown when it found too little evidence
    payload.update(best=None, best_note="too little evidence: at most 2 references")
    refused = write_report_html(out / "report.html", payload, report_type=CodeReport(),
                                index=api.index).read_text()
    assert "No best checkpoint: too little evidence: at most 2 references." in refused
    assert 'class="best"' not in refused
    # the prompt across checkpoints: one column per checkpoint in each prompt's panel
    panel = page[page.index('id="p1"'):page.index('id="p2"')]
    assert [m for m in re.findall(r'<div data-checkpoint="([^"]+)"><h4>', panel)] == [
        "base", "checkpoint-10", "final"]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _script_errors(dom: str) -> list[str]:
    """What the page's error hook caught: the <html> tag's data-js-errors and the #js-errors box."""
    tag = re.search(r"<html[^>]*>", dom).group(0)
    box = re.search(r'<div id="js-errors"([^>]*)>(.*?)</div>', dom, re.DOTALL)
    errors = []
    if "data-js-errors" in tag:
        errors.append(tag)
    if box is None or "hidden" not in box.group(1):
        errors.append(box.group(2) if box else "the #js-errors box is gone")
    return errors


def _render(page: Path, fragment: str = "") -> str:
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium on PATH (CI installs Debian's chromium)")
    url = page.resolve().as_uri() + fragment
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--no-first-run", "--disable-extensions", "--virtual-time-budget=3000",
                           f"--user-data-dir={page.parent / '.chromium'}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_page_in_a_real_browser(tmp_path, tween_api, api):
    out = tmp_path / "eval"
    payload = _fake_sweep(out, tween_api)
    page = write_report_html(out / "report.html", payload, report_type=CodeReport(), index=api.index)
    dom = _render(page)
    assert 'data-report-ready="1"' in dom, "the page's script did not finish"
    assert _script_errors(dom) == []
    metrics = dom[dom.index('id="metrics"'):dom.index("</table>", dom.index('id="metrics"'))]
    assert re.findall(r'data-checkpoint="([^"]+)"', metrics) == ["base", "checkpoint-10", "final"]
    assert dom.count('class="ref hall"') >= 3 and dom.count('class="ref doc"') >= 3
    assert 'class="line err"' in dom
    # the error hook works: a page whose script throws says so in its DOM
    broken = page.with_name("broken.html")
    broken.write_text(page.read_text().replace("</body>", "<script>notDefined();</script></body>"))
    assert any("notDefined" in e for e in _script_errors(_render(broken)))
    # a sorted link: #sort=metrics:3:desc sorts by api_match_accuracy, best first
    sorted_dom = _render(page, "#sort=metrics:3:desc")
    assert 'data-report-ready="1"' in sorted_dom and _script_errors(sorted_dom) == []
    metrics = sorted_dom[sorted_dom.index('id="metrics"'):]
    metrics = metrics[:metrics.index("</table>")]
    assert 'data-sorted="3:desc"' in metrics
    assert re.findall(r'data-checkpoint="([^"]+)"', metrics) == ["final", "checkpoint-10", "base"]


@pytest.mark.slow
def test_sweep_writes_report_html(invoke, checkpoints, tiny_base, tween_api, tmp_path):
    prompts = tmp_path / "prompts.csv"
    with prompts.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["prompt"])
        writer.writerows([["local t = "], ["tween."]])
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps(
        {"name": "one", "prompt": "local function one()\n",
         "tests": "assert(one() == 1)", "stop_tokens": ["\nlocal", "\n\n"]}) + "\n")
    config = tmp_path / "eval.yaml"
    config.write_text(f"base_folder: {checkpoints}\nbase_model: {tiny_base}\napi_path: {tween_api}\n"
                      f"test_data_path: {prompts}\nreport_type: code\nproblems_path: {problems}\n"
                      f"max_new_tokens: 16\noutput_dir: {tmp_path / 'out'}\n")
    result = invoke("eval", "run", config)
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    page = (out / "report.html").read_text()
    rows = json.loads((out / "results.json").read_text())["rows"]
    for row in rows:
        assert f'id="ckpt-{row["checkpoint"]}"' in page
        assert (out / "generations" / f"{row['checkpoint']}.exec.jsonl").is_file()
    assert page.count('class="prompt"') >= 2
    assert "data:image/png;base64," in page
    assert "report.html" in result.output
    dom = _render(out / "report.html")
    assert 'data-report-ready="1"' in dom and _script_errors(dom) == []
