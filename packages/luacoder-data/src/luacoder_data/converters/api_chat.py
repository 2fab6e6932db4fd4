"""``api-chat``: API records -> synthetic conversations that teach the API.

One conversation per record and applicable template (what does X do, what does it return, what
arguments does it take, write code that uses X, how do I <task>, is X deprecated), answers built
only from the record's documented facts and examples. Templates live in
``luacoder_data/templates/api_chat.yaml``; ``--templates FILE`` replaces or adds templates by id.
A conversation whose answer mentions an API name that is not documented (checked with core's
``extract_references`` and ``ApiIndex``) is rejected.

With ``--teacher URL --teacher-model NAME`` a teacher model writes the tasks and answers
instead (:mod:`luacoder_data.teacher`), checked the same way and more.

``read`` counts candidate conversations (a record with no applicable template counts once and is
rejected), so ``read = written + rejected + duplicates`` holds.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
from pathlib import Path
from typing import Any

import click
from luacoder_core.components import Converter
from luacoder_core.errors import InputError

from luacoder_data.api_facts import facts, load_api_records
from luacoder_data.options import common_params, malformed_mode, open_output, seed_param

DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "api_chat.yaml"
FIELDS = ("name", "signature", "kind", "module", "section", "description", "summary", "task",
          "params_text", "returns_text", "example", "deprecation")
REQUIRABLE = (*FIELDS, "params", "returns", "callable")


def _load_template_file(path: str | Path) -> dict[str, Any]:
    import yaml

    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise InputError("not UTF-8", file=str(path)) from exc
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        line = line + 1 if line is not None else getattr(exc, "lineno", None)
        raise InputError(f"not valid YAML/JSON: {exc}", file=str(path), line=line) from exc
    if isinstance(data, list):
        data = {"templates": data}
    if not isinstance(data, dict) or not isinstance(data.get("templates", []), list):
        raise InputError("expected a 'templates' list (or a list of templates)", file=str(path))
    for i, tpl in enumerate(data.get("templates", [])):
        _check_template(tpl, path, i)
    unknown = set(data) - {"system", "templates"}
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(sorted(unknown))}; known: system, templates",
                         file=str(path), key=sorted(unknown)[0])
    return data


def _check_template(tpl: Any, path: Path, i: int) -> None:
    where = f"templates[{i}]"
    if not isinstance(tpl, dict) or not isinstance(tpl.get("id"), str):
        raise InputError(f"{where} needs an 'id'", file=str(path), key=where)
    unknown = set(tpl) - {"id", "requires", "questions", "answer"}
    if unknown:
        raise InputError(f"{where} ({tpl['id']}): unknown key(s) {', '.join(sorted(unknown))}",
                         file=str(path), key=sorted(unknown)[0])
    questions = tpl.get("questions")
    if not isinstance(questions, list) or not questions or not all(isinstance(q, str) for q in questions):
        raise InputError(f"{where} ({tpl['id']}): 'questions' must be a non-empty list of strings",
                         file=str(path), key="questions")
    if not isinstance(tpl.get("answer"), str):
        raise InputError(f"{where} ({tpl['id']}): 'answer' must be a string", file=str(path),
                         key="answer")
    for req in tpl.get("requires") or []:
        if req not in REQUIRABLE:
            raise InputError(f"{where} ({tpl['id']}): unknown requirement '{req}' (known: "
                             f"{', '.join(REQUIRABLE)})", file=str(path), key="requires")
    for text in [*questions, tpl["answer"]]:
        for _, field, _, _ in string.Formatter().parse(text):
            if field is not None and field not in FIELDS:
                raise InputError(f"{where} ({tpl['id']}): unknown placeholder {{{field}}} (known: "
                                 f"{', '.join(FIELDS)})", file=str(path), key=field)


def load_templates(path: str | None) -> tuple[str | None, list[dict[str, Any]]]:
    """The default templates, with those of ``path`` replacing (same id) or added."""
    base = _load_template_file(DEFAULT_TEMPLATES)
    templates = {t["id"]: t for t in base["templates"]}
    system = base.get("system")
    if path:
        custom = _load_template_file(path)
        for tpl in custom.get("templates", []):
            templates[tpl["id"]] = tpl
        if "system" in custom:
            system = custom["system"]
    return system, list(templates.values())


def _required(tpl: dict[str, Any]) -> set[str]:
    needed = set(tpl.get("requires") or [])
    for text in [*tpl["questions"], tpl["answer"]]:
        needed.update(f for _, f, _, _ in string.Formatter().parse(text) if f)
    return needed


def chain_pattern(roots) -> re.Pattern:
    """Every name chain under one of ``roots`` anywhere in a text, code or not (a superset of
    what ``extract_references`` finds in the text's code)."""
    alternatives = "|".join(sorted(map(re.escape, roots), key=len, reverse=True)) or "(?!)"
    return re.compile(rf"(?<![\w.:])(?:{alternatives})(?:\s*[.:]\s*[A-Za-z_]\w*)*(?!\w)")


def undocumented_names(text: str, index, chains: re.Pattern | None = None) -> list[str]:
    """API names under documented roots that the markdown ``text`` mentions in code but that
    are not documented (DESIGN.md's reading: fenced lua/unlabelled blocks and inline code)."""
    from luacoder_core.markdown import lua_code

    if chains is not None and all(index.matches(re.sub(r"\s+", "", m.group(0)))
                                  for m in chains.finditer(text)):
        return []  # nothing undocumented anywhere in the text: no need to parse the markdown
    bad = []
    for code in lua_code(text):
        for ref in index.references(code):  # DESIGN.md: bare roots are no reference
            if not index.matches(ref.name) and ref.name not in bad:
                bad.append(ref.name)
    return bad


def build_index(api_files: list[str], on_malformed: str):
    from luacoder_core.lua import ApiIndex

    return ApiIndex(r["name"] for r, _, problem in load_api_records(api_files, on_malformed)
                    if problem is None)


class ApiChatConverter(Converter):
    """API records -> synthetic conversations (what does X do / return, how do I..., examples)."""

    summary = "API records -> synthetic conversations built only from the documented facts."
    output_kind = "conversation"

    def params(self) -> list[click.Parameter]:
        return [
            click.Option(["--templates"], type=click.Path(dir_okay=False),
                         help="YAML/JSON file of templates that replace (same id) or add to the "
                              "defaults (luacoder_data/templates/api_chat.yaml)."),
            click.Option(["--only"], default=None,
                         help="Comma list of template ids to use (default: all)."),
            click.Option(["--per-record"], type=click.IntRange(1), default=None,
                         help="At most this many conversations per record (templates picked at "
                              "random, seeded)."),
            click.Option(["--system-prompt"], default=None,
                         help="System message of every conversation (overrides the templates')."),
            click.Option(["--include-deprecated/--skip-deprecated"], default=True,
                         show_default=True, help="Teach deprecated entries too."),
            *teacher_params(),
            *common_params(split=True),
            seed_param(),
        ]

    def run(self, inputs: list[str], output: str, *, templates: str | None = None,
            only: str | None = None, per_record: int | None = None,
            system_prompt: str | None = None, include_deprecated: bool = True,
            test_size: float | None = None, seed: int = 0, **options: Any):
        if options.get("teacher"):
            clash = [flag for flag, value in (("--templates", templates), ("--only", only),
                                              ("--per-record", per_record)) if value]
            if clash:
                raise InputError(f"{', '.join(clash)} shape the template conversations; with "
                                 "--teacher use --teacher-prompts and --teacher-tasks",
                                 key="teacher")
            return self._run_teacher(inputs, output, system_prompt=system_prompt,
                                     include_deprecated=include_deprecated, test_size=test_size,
                                     seed=seed, options=options)
        if options.get("teacher_model"):
            raise InputError("--teacher-model needs --teacher URL", key="teacher")
        system, tpls = load_templates(templates)
        if only:
            wanted = [x.strip() for x in only.split(",") if x.strip()]
            known = {t["id"] for t in tpls}
            for w in wanted:
                if w not in known:
                    raise InputError(f"--only: no template '{w}' (templates: {', '.join(sorted(known))})")
            tpls = [t for t in tpls if t["id"] in wanted]
        system = system_prompt if system_prompt is not None else system
        on_malformed = malformed_mode(options)
        index = build_index(inputs, on_malformed)
        chains = chain_pattern(index.roots)
        rng = random.Random(seed)
        seen: set[bytes] = set()
        out = open_output(output, kind="conversation", name="api-chat", options=options,
                          test_size=test_size, seed=seed)
        with out:
            for record, item, problem in load_api_records(inputs, on_malformed):
                if problem is not None:
                    out.count_read()
                    out.reject(item.record if not hasattr(item, "raw") else None, problem, item)
                    continue
                if record.get("deprecated") and not include_deprecated:
                    out.count_read()
                    out.reject(record, "deprecated (--skip-deprecated)", item)
                    continue
                values = facts(record)
                applicable = [t for t in tpls if _required(t) <= set(values)]
                if per_record is not None and len(applicable) > per_record:
                    applicable = rng.sample(applicable, per_record)
                if not applicable:
                    out.count_read()
                    out.reject(record, "nothing documented to ask about (no template applies)", item)
                    continue
                for tpl in applicable:
                    out.count_read()
                    question = rng.choice(tpl["questions"]).format_map(values)
                    answer = tpl["answer"].format_map(values).strip()
                    bad = undocumented_names(answer, index, chains)
                    if bad:
                        out.reject({"template": tpl["id"], "name": record["name"], "answer": answer},
                                   f"answer mentions undocumented API name(s): {', '.join(bad)}", item)
                        continue
                    key = hashlib.blake2b((question + "\x00" + answer).encode("utf-8"),
                                          digest_size=16).digest()
                    if key in seen:
                        out.count_duplicate()
                        continue
                    seen.add(key)
                    messages = [{"role": "user", "content": question},
                                {"role": "assistant", "content": answer}]
                    if system:
                        messages.insert(0, {"role": "system", "content": system})
                    out.write({"messages": messages, "api": record["name"], "template": tpl["id"],
                               "source": record.get("source") or {"file": item.file,
                                                                  "line": item.line}}, item)
        return out.summary

    def _run_teacher(self, inputs: list[str], output: str, *, system_prompt: str | None,
                     include_deprecated: bool, test_size: float | None, seed: int,
                     options: dict[str, Any]):
        import os

        from luacoder_data.teacher import TeacherSettings, run_teacher

        if not options.get("teacher_model"):
            raise InputError("--teacher needs --teacher-model NAME (the model id the endpoint "
                             "serves; GET URL/models lists them)", key="teacher_model")
        settings = TeacherSettings(
            url=options["teacher"], model=options["teacher_model"],
            api_key=options.get("teacher_api_key") or os.environ.get("LUACODER_TEACHER_API_KEY")
            or os.environ.get("OPENAI_API_KEY"),
            prompts=options.get("teacher_prompts"), tasks=options.get("teacher_tasks") or 3,
            group_size=options.get("teacher_group_size", 3),
            concurrency=options.get("teacher_concurrency") or 4,
            timeout=options.get("teacher_timeout") or 120.0,
            retries=options.get("teacher_retries", 5), cache=options.get("teacher_cache"),
            temperature=options.get("teacher_temperature", 0.7),
            max_tokens=options.get("teacher_max_tokens") or 1024,
            tests=options.get("teacher_tests", True))
        out = open_output(output, kind="conversation", name="api-chat", options=options,
                          test_size=test_size, seed=seed)
        with out:
            extra = run_teacher(inputs, output, settings, out=out,
                                on_malformed=malformed_mode(options), system_prompt=system_prompt,
                                include_deprecated=include_deprecated, seed=seed,
                                echo=lambda line: click.echo(line, err=True))
        out.summary.extra.update(extra)
        return out.summary


def teacher_params() -> list[click.Parameter]:
    """The ``--teacher*`` options: tasks and answers from an OpenAI-compatible endpoint."""
    return [
        click.Option(["--teacher"], default=None, metavar="URL",
                     help="Ask this OpenAI-compatible API (its base URL, e.g. "
                          "http://127.0.0.1:8000/v1 for `luacoder eval serve`) for tasks and "
                          "answers instead of using templates; only verified answers are kept.",
                     ),
        click.Option(["--teacher-model"], default=None, metavar="NAME",
                     help="The teacher's model id."),
        click.Option(["--teacher-api-key"], default=None, metavar="KEY",
                     help="API key (default: $LUACODER_TEACHER_API_KEY, else $OPENAI_API_KEY)."),
        click.Option(["--teacher-prompts"], type=click.Path(dir_okay=False), default=None,
                     help="YAML file replacing the prompts system/tasks/answer (defaults: "
                          "luacoder_data/templates/teacher.yaml)."),
        click.Option(["--teacher-tasks"], type=click.IntRange(1, 20), default=3,
                     show_default=True, help="Tasks asked per record or group."),
        click.Option(["--teacher-group-size"], type=click.IntRange(0), default=3,
                     show_default=True,
                     help="Also ask about groups of up to N related records (one module or "
                          "class); 0 or 1: single records only."),
        click.Option(["--teacher-concurrency"], type=click.IntRange(1, 256), default=4,
                     show_default=True, help="Requests in flight at once."),
        click.Option(["--teacher-timeout"], type=click.FloatRange(0.1), default=120.0,
                     show_default=True, help="Seconds per request before it is retried."),
        click.Option(["--teacher-retries"], type=click.IntRange(0), default=5, show_default=True,
                     help="Retries of a timed-out, 429 or 5xx request (exponential backoff)."),
        click.Option(["--teacher-cache"], type=click.Path(file_okay=False), default=None,
                     help="Folder of cached replies (default: OUTPUT.teacher-cache beside the "
                          "output); a rerun sends only what is not in it."),
        click.Option(["--teacher-temperature"], type=click.FloatRange(0, 2), default=0.7,
                     show_default=True),
        click.Option(["--teacher-max-tokens"], type=click.IntRange(1), default=1024,
                     show_default=True),
        click.Option(["--teacher-tests/--no-teacher-tests"], default=True, show_default=True,
                     help="Run the teacher's tests in luacoder-eval's sandbox (when installed)."),
    ]
