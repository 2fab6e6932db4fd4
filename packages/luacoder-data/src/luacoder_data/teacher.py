"""``api-chat --teacher URL --teacher-model NAME``: tasks and answers written by a teacher model,
kept only when the API records and the Lua tools verify them.

For every API record, and for groups of related records (members of one module or class), the
teacher is asked, through prompts the user can replace (``--teacher-prompts FILE``):

1. for ``--teacher-tasks`` realistic tasks that need those functions (read from free text:
   numbered or bulleted lines, else paragraphs);
2. for each task, an answer with Lua code, given the records' documentation (the conversation
   written keeps only the task and the answer: the student learns to answer without the docs).

Nothing is demanded of the reply's format beyond markdown with Lua blocks, since small and local
models do not keep one. An answer is kept only when

* it has a Lua code block (fenced ``lua`` or unlabelled);
* every API name it uses in code is documented (DESIGN.md's rule: core's ``extract_references``
  read through ``ApiIndex``), else the reason names the hallucinated names;
* every Lua block compiles (core's ``check_syntax``, Lua 5.4), else the reason gives the block,
  line and Lua's message;
* where the teacher also wrote a test (a block using LuaUnit's ``lu.assert*``, or plain
  ``assert``), the code passes it in the sandbox of luacoder-eval's ``lua_tests`` reward, found
  through core's plugin manager (data never imports eval). The documented API is not there at
  run time, so every documented root is a permissive stub (any field, any call) and tests check
  the answer's own logic. Without luacoder-eval the record says ``tests: not run``.

Every rejected answer goes to the rejects file with its reason and the task, the answer and the
API names it was about; every teacher reply is cached (see :mod:`.teacher_client`).
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luacoder_core.errors import InputError

DEFAULT_PROMPTS = Path(__file__).resolve().parent / "templates" / "teacher.yaml"
PROMPT_KEYS = {"system": set(), "tasks": {"api", "names", "n"},
               "answer": {"api", "names", "task"}}

_TASK_LINE = re.compile(r"^\s*(?:#+\s*)?(?:\*\*)?(?:task\s*\d*\s*[:.)-]|\d+\s*[.):-]|[-*•])\s*(?:\*\*)?\s*(.+)$",
                        re.IGNORECASE)
_TEST_HINT = re.compile(r"\blu\s*\.\s*assert|\bluaunit\b|\bLuaUnit\b|^\s*assert\s*\(", re.MULTILINE)


# ------------------------------------------------------------------------------------------------
# prompts
# ------------------------------------------------------------------------------------------------


def load_prompts(path: str | None) -> dict[str, str]:
    """The default teacher prompts, with those of ``path`` (YAML: ``system``, ``tasks``,
    ``answer``) replacing them."""
    import yaml

    def read(p: Path) -> dict[str, Any]:
        if not p.is_file():
            raise InputError("file not found", file=str(p))
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise InputError("not UTF-8", file=str(p)) from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise InputError(f"not valid YAML: {exc}", file=str(p),
                             line=mark.line + 1 if mark else None) from exc
        if not isinstance(data, dict):
            raise InputError("expected a mapping with system, tasks and/or answer", file=str(p))
        for key, value in data.items():
            if key not in PROMPT_KEYS:
                raise InputError(f"unknown key '{key}' (known: {', '.join(PROMPT_KEYS)})",
                                 file=str(p), key=str(key))
            if not isinstance(value, str):
                raise InputError(f"'{key}' must be a string", file=str(p), key=key)
            for _, name, _, _ in string.Formatter().parse(value):
                if name is not None and name not in PROMPT_KEYS[key]:
                    allowed = ", ".join("{" + k + "}" for k in sorted(PROMPT_KEYS[key])) or "none"
                    raise InputError(f"'{key}' uses unknown placeholder {{{name}}} (allowed: "
                                     f"{allowed}; write {{{{ and }}}} for braces)",
                                     file=str(p), key=key)
        return data

    prompts = read(DEFAULT_PROMPTS)
    if path:
        prompts.update(read(Path(path)))
    return prompts


# ------------------------------------------------------------------------------------------------
# units: one record, or a group of related records
# ------------------------------------------------------------------------------------------------


@dataclass
class Unit:
    records: list[dict]
    sources: list[Any]

    @property
    def names(self) -> list[str]:
        return [r["name"] for r in self.records]


def parent_of(name: str) -> str | None:
    if ":" in name:
        return name.rsplit(":", 1)[0]
    return name.rsplit(".", 1)[0] if "." in name else None


def make_units(records: list[tuple[dict, Any]], group_size: int) -> list[Unit]:
    """Every record but modules alone, then groups of up to ``group_size`` members of the same
    module or class (in documentation order)."""
    units = [Unit([r], [s]) for r, s in records if r.get("kind") != "module"]
    if group_size >= 2:
        families: dict[str, list[tuple[dict, Any]]] = {}
        for record, source in records:
            parent = parent_of(record["name"])
            if parent and record.get("kind") != "module":
                families.setdefault(parent, []).append((record, source))
        for members in families.values():
            if len(members) < 2:
                continue
            for start in range(0, len(members), group_size):
                chunk = members[start:start + group_size]
                if len(chunk) >= 2:
                    units.append(Unit([r for r, _ in chunk], [s for _, s in chunk]))
    return units


def render_api(records: list[dict]) -> str:
    """The documentation of ``records`` as the teacher reads it (markdown)."""
    from luacoder_data.api_facts import facts

    parts = []
    for record in records:
        values = facts(record)
        lines = [f"### `{values['signature']}` ({values['kind']})"]
        if values.get("description"):
            lines.append(values["description"])
        if values.get("params_text"):
            lines.append("Parameters:\n" + values["params_text"])
        if values.get("returns_text"):
            lines.append("Returns: " + values["returns_text"])
        if values.get("deprecation"):
            lines.append("Deprecated: " + values["deprecation"])
        if values.get("example"):
            lines.append("Example:\n```lua\n" + values["example"].rstrip("\n") + "\n```")
        parts.append("\n\n".join(lines))
    return "\n\n".join(parts)


# ------------------------------------------------------------------------------------------------
# reading the teacher's free text
# ------------------------------------------------------------------------------------------------


def parse_tasks(text: str, limit: int) -> list[str]:
    """Tasks from a free-text reply: numbered or bulleted lines (``1.``, ``-``, ``Task 2:``),
    else paragraphs; headings, code and lead-in lines ("Here are three tasks:") left out."""
    text = re.sub(r"```.*?(```|\Z)", "", text or "", flags=re.DOTALL)
    tasks: list[str] = []
    for line in text.splitlines():
        m = _TASK_LINE.match(line)
        if m:
            tasks.append(m.group(1))
    if not tasks:
        tasks = [p.replace("\n", " ") for p in re.split(r"\n\s*\n", text)]
    cleaned: list[str] = []
    for task in tasks:
        task = re.sub(r"\*\*|__", "", task).strip().strip('"').strip()
        if len(task.split()) < 3 or task.endswith(":") or len(task) > 600:
            continue
        if task.lower() not in (t.lower() for t in cleaned):
            cleaned.append(task)
    return cleaned[:limit]


@dataclass
class Verdict:
    reason: str | None = None
    solution: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)


def fenced_lua(answer: str) -> list[str]:
    """The fenced blocks of ``answer`` labelled ``lua`` or unlabelled, in order (core's
    ``lua_code`` without its inline code spans)."""
    from luacoder_core.markdown import inline_code, lua_code

    code = lua_code(answer)
    spans = len(inline_code(answer)) if code else 0
    return code[: len(code) - spans]


def check_answer(answer: str, index: Any, chains: Any) -> Verdict:
    """Why ``answer`` cannot be kept (None: it can), with its solution and test blocks."""
    from luacoder_core.lua import check_syntax

    from luacoder_data.converters.api_chat import undocumented_names

    blocks = [b for b in fenced_lua(answer) if b.strip()]
    if not blocks:
        return Verdict("answer has no Lua code block")
    bad = undocumented_names(answer, index, chains)
    if bad:
        return Verdict(f"answer uses undocumented API name(s): {', '.join(bad)}")
    for i, block in enumerate(blocks, start=1):
        result = check_syntax(block)
        if not result.ok:
            where = f" line {result.line}" if result.line else ""
            return Verdict(f"Lua block {i} does not compile:{where}: {result.message}")
    tests = [b for b in blocks if _TEST_HINT.search(b)]
    solution = [b for b in blocks if b not in tests]
    if tests and not solution:
        return Verdict("answer has a test but no code to test")
    return Verdict(None, solution, tests)


# ------------------------------------------------------------------------------------------------
# tests in the sandbox, through the lua_tests reward when luacoder-eval is installed
# ------------------------------------------------------------------------------------------------

STUB = """\
local function luacoder_stub(path)
  local stub = {}
  return setmetatable(stub, {
    __index = function(t, k) local v = luacoder_stub(path .. "." .. tostring(k)); rawset(t, k, v); return v end,
    __call = function() return luacoder_stub(path .. "()") end,
    __tostring = function() return path end,
  })
end
"""


def stub_prelude(roots: list[str]) -> str:
    names = [r for r in roots if re.fullmatch(r"[A-Za-z_]\w*", r)]
    return STUB + "".join(f"{r} = {r} or luacoder_stub({r!r})\n" for r in names)


def as_luaunit(test: str) -> str:
    """A test block as a LuaUnit program the sandbox judges: one that calls the runner is left
    as it is; plain ``assert`` checks are wrapped in a test function that must reach its end."""
    if re.search(r"LuaUnit\s*\.\s*run", test):
        return test
    body = "\n".join("  " + line for line in test.splitlines())
    return ("local lu = require('luaunit')\n"
            "function test_teacher()\n" + body + "\n  lu.assertTrue(true) -- reached the end\nend\n"
            "os.exit(lu.LuaUnit.run())\n")


class TestRunner:
    """Runs the teacher's tests with the ``lua_tests`` reward of whatever plugin registers it
    (luacoder-eval). ``available`` False (and ``why_not``) when none does or tests are off."""

    def __init__(self, enabled: bool, roots: list[str], timeout: float = 5.0) -> None:
        self.available = False
        self.why_not = "tests not run: disabled (--no-teacher-tests)"
        self.reward = None
        self.prelude = stub_prelude(sorted(roots))
        if not enabled:
            return
        from luacoder_core.plugins import make_plugin_manager

        registry = make_plugin_manager().registries.rewards
        if "lua_tests" not in registry:
            self.why_not = ("tests not run: no 'lua_tests' reward installed "
                            "(pip install luacoder-eval)")
            return
        try:
            self.reward = registry.get("lua_tests").bind(
                {"grading": "binary", "timeout": float(timeout)}, {"report_type": "markdown"})
        except Exception as exc:  # a reward that does not take these options
            self.why_not = f"tests not run: the lua_tests reward refused its options: {exc}"
            return
        self.available = True
        self.why_not = ""

    def run(self, cases: list[tuple[str, list[str], list[str]]]) -> list[bool]:
        """``(task, solution blocks, test blocks)`` -> passed, one per case."""
        if not cases:
            return []
        assert self.reward is not None
        fence = "```"
        completions = [f"{fence}lua\n{self.prelude}{fence}\n\n"
                       + "\n\n".join(f"{fence}lua\n{b}\n{fence}" for b in solution)
                       for _, solution, _ in cases]
        tests = ["\n".join(as_luaunit(t) for t in tests[:1]) for _, _, tests in cases]
        scores = self.reward([task for task, _, _ in cases], completions, tests=tests)
        return [score == 1.0 for score in scores]


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------


@dataclass
class TeacherSettings:
    url: str
    model: str
    api_key: str | None = None
    prompts: str | None = None
    tasks: int = 3
    group_size: int = 3
    concurrency: int = 4
    timeout: float = 120.0
    retries: int = 5
    cache: str | None = None
    temperature: float = 0.7
    max_tokens: int = 1024
    tests: bool = True
    test_timeout: float = 5.0
    chunk: int = 64


def run_teacher(inputs: list[str], output: str, settings: TeacherSettings, *, out: Any,
                on_malformed: str, system_prompt: str | None, include_deprecated: bool,
                seed: int, echo: Any) -> dict:
    """Ask the teacher about every unit of the API in ``inputs``; write the verified
    conversations to ``out`` (an :class:`luacoder_data.outputs.Output`)."""
    from luacoder_data.api_facts import load_api_records
    from luacoder_data.converters.api_chat import build_index, chain_pattern
    from luacoder_data.teacher_client import TeacherClient

    prompts = load_prompts(settings.prompts)
    index = build_index(inputs, on_malformed)
    chains = chain_pattern(index.roots)
    records: list[tuple[dict, Any]] = []
    for record, item, problem in load_api_records(inputs, on_malformed):
        if problem is not None:
            out.count_read()
            out.reject(None, problem, item)
        elif record.get("deprecated") and not include_deprecated:
            out.count_read()
            out.reject(record, "deprecated (--skip-deprecated)", item)
        else:
            records.append((record, item))
    units = make_units(records, settings.group_size)
    runner = TestRunner(settings.tests, list(index.roots), settings.test_timeout)
    cache = settings.cache or str(Path(output).with_name(Path(output).name + ".teacher-cache"))
    system = prompts.get("system") or ""
    echo(f"api-chat: teacher {settings.model} at {settings.url}: {len(units)} unit(s) "
         f"({len(records)} record(s), groups of up to {settings.group_size}), "
         f"{settings.tasks} task(s) each; cache {cache}"
         + ("" if runner.available else f"; {runner.why_not}"))
    seen: set[bytes] = set()
    counts = {"tests_passed": 0, "tests_failed": 0, "no_test": 0, "tests_not_run": 0}
    with TeacherClient(settings.url, settings.model, api_key=settings.api_key, cache_dir=cache,
                       timeout=settings.timeout, max_retries=settings.retries,
                       concurrency=settings.concurrency, temperature=settings.temperature,
                       max_tokens=settings.max_tokens, seed=seed) as client:
        for start in range(0, len(units), settings.chunk):
            chunk = units[start:start + settings.chunk]
            docs = [render_api(u.records) for u in chunk]
            task_prompts = [_messages(system, prompts["tasks"].format(
                api=doc, names=", ".join(u.names), n=settings.tasks)) for u, doc in zip(chunk, docs)]
            task_replies = client.complete_many(task_prompts)
            asks: list[tuple[int, str]] = []
            for i, (unit, reply) in enumerate(zip(chunk, task_replies)):
                about = {"api": unit.names}
                if reply.text is None:
                    out.count_read()
                    out.reject(about, f"teacher request failed: {reply.error}", unit.sources[0])
                    continue
                tasks = parse_tasks(reply.text, settings.tasks)
                if not tasks:
                    out.count_read()
                    out.reject({**about, "reply": reply.text[:2000]},
                               "teacher wrote no task we could read", unit.sources[0])
                    continue
                asks.extend((i, task) for task in tasks)
            answer_prompts = [_messages(system, prompts["answer"].format(
                api=docs[i], names=", ".join(chunk[i].names), task=task)) for i, task in asks]
            answers = client.complete_many(answer_prompts)
            kept: list[tuple[int, str, str, Verdict]] = []
            for (i, task), reply in zip(asks, answers):
                unit = chunk[i]
                out.count_read()
                about = {"api": unit.names, "task": task}
                if reply.text is None:
                    out.reject(about, f"teacher request failed: {reply.error}", unit.sources[0])
                    continue
                answer = reply.text.strip()
                verdict = check_answer(answer, index, chains)
                if verdict.reason:
                    out.reject({**about, "answer": answer}, verdict.reason, unit.sources[0])
                    continue
                kept.append((i, task, answer, verdict))
            with_tests = [k for k in kept if k[3].tests]
            passed: dict[int, bool] = {}
            if runner.available and with_tests:
                results = runner.run([(task, v.solution, v.tests) for _, task, _, v in with_tests])
                passed = {id(k): ok for k, ok in zip(with_tests, results)}
            for entry in kept:
                i, task, answer, verdict = entry
                unit = chunk[i]
                if verdict.tests and runner.available:
                    if not passed.get(id(entry)):
                        counts["tests_failed"] += 1
                        out.reject({"api": unit.names, "task": task, "answer": answer,
                                    "test": verdict.tests[0]},
                                   "code fails the teacher's test in the sandbox", unit.sources[0])
                        continue
                    counts["tests_passed"] += 1
                    checked = "tests passed"
                elif verdict.tests:
                    counts["tests_not_run"] += 1
                    checked = runner.why_not
                else:
                    counts["no_test"] += 1
                    checked = "no test"
                key = hashlib.blake2b((task + "\x00" + answer).encode("utf-8"),
                                      digest_size=16).digest()
                if key in seen:
                    out.count_duplicate()
                    continue
                seen.add(key)
                messages = [{"role": "user", "content": task},
                            {"role": "assistant", "content": answer}]
                if system_prompt:
                    messages.insert(0, {"role": "system", "content": system_prompt})
                source = unit.records[0].get("source") or {"file": unit.sources[0].file,
                                                           "line": unit.sources[0].line}
                out.write({"messages": messages, "api": unit.names[0] if len(unit.names) == 1
                           else unit.names, "template": "teacher", "teacher": settings.model,
                           "checks": {"api": "documented", "syntax": "compiles",
                                      "tests": checked}, "source": source}, unit.sources[0])
    stats = client.stats
    echo(f"api-chat: teacher: {stats.requests} request(s) sent, {stats.cache_hits} answered from "
         f"the cache, {stats.retries} retried, {stats.failures} failed; tests: "
         f"{counts['tests_passed']} passed, {counts['tests_failed']} failed, "
         f"{counts['tests_not_run']} not run, {counts['no_test']} answer(s) without a test")
    return {"teacher_requests": stats.requests, "teacher_cache_hits": stats.cache_hits,
            "teacher_retries": stats.retries, "teacher_failures": stats.failures, **counts}


def _messages(system: str, user: str) -> list[dict]:
    messages = [{"role": "user", "content": user}]
    if system.strip():
        messages.insert(0, {"role": "system", "content": system.strip()})
    return messages
