"""``api-preference``: API records -> DPO preference pairs (documented call vs. hallucination).

``chosen`` is Lua code that uses the documented call (the record's own example when it calls the
name, else a call built from the signature); ``rejected`` is the same code with one plausible
hallucination, the mistakes the API match metric counts:

* ``name``: a near-miss name (plural/singular, camelCase/snake_case, a typo, a synonym verb);
* ``module``: the right function under another documented module (``kong.request.exit``);
* ``arity``: the documented name with an argument count outside its signature's range.

A name-based hallucination is never a documented name (``ApiIndex.matches``); an arity one is
checked with ``extract_calls``. Everything is seeded. ``read`` counts candidate pairs (one per
record and ``--pairs-per-record``), so ``read = written + rejected + duplicates`` holds.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

import click
from luacoder_core.components import Converter
from luacoder_core.errors import InputError

from luacoder_data.api_facts import arity, facts, is_callable, load_api_records, module_of
from luacoder_data.converters.api_chat import build_index
from luacoder_data.options import common_params, malformed_mode, open_output, seed_param

STRATEGIES = ("name", "module", "arity")
SYNONYMS = {
    "get": ("fetch", "read", "retrieve"), "set": ("update", "put", "assign"),
    "new": ("create", "make", "init"), "create": ("new", "make"), "close": ("destroy", "shutdown"),
    "remove": ("delete", "del"), "delete": ("remove", "del"), "add": ("append", "insert", "push"),
    "start": ("begin", "run"), "stop": ("end", "halt"), "read": ("get", "load"),
    "write": ("put", "send"), "open": ("load", "create"), "clear": ("reset", "wipe"),
    "send": ("write", "emit"), "is": ("has", "check"), "has": ("is", "contains"),
    "exit": ("quit", "finish"), "error": ("err", "fail"), "load": ("read", "open"),
}
PLACEHOLDER_ARGS = ("nil", "{}", "true", "0", "\"\"")


def _split_name(name: str) -> tuple[str, str, str]:
    """``a.b:c`` -> (``a.b``, ``:``, ``c``); a bare name -> (``""``, ``""``, name)."""
    m = re.match(r"^(.*)([.:])([^.:]+)$", name)
    return (m.group(1), m.group(2), m.group(3)) if m else ("", "", name)


def near_miss_names(name: str, rng: random.Random) -> list[str]:
    """Plausible misspellings of ``name``'s last segment, in a seeded order."""
    module, sep, last = _split_name(name)
    out: list[str] = []
    if last.endswith("s") and len(last) > 3:
        out.append(last[:-1])
    else:
        out.append(last + "s")
    if "_" in last:
        parts = last.split("_")
        out.append(parts[0] + "".join(p.title() for p in parts[1:]))
        out.append("".join(parts))
    elif re.search(r"[a-z][A-Z]", last):
        out.append(re.sub(r"(?<=[a-z])([A-Z])", lambda m: "_" + m.group(1).lower(), last))
    words = last.split("_")
    for i, word in enumerate(words):
        for syn in SYNONYMS.get(word.lower(), ()):
            out.append("_".join([*words[:i], syn, *words[i + 1:]]))
    if len(last) > 4:
        i = rng.randrange(1, len(last) - 1)
        out.append(last[:i] + last[i + 1:])  # a dropped letter
        j = rng.randrange(0, len(last) - 1)
        if last[j] != last[j + 1]:
            out.append(last[:j] + last[j + 1] + last[j] + last[j + 2:])  # two letters swapped
    rng.shuffle(out)
    return [f"{module}{sep}{c}" for c in dict.fromkeys(out) if c and c != last
            and re.match(r"^[A-Za-z_]\w*$", c)]


def wrong_module_names(name: str, modules: list[str], rng: random.Random, k: int = 12) -> list[str]:
    """``name``'s last segment under up to ``k`` other documented modules (seeded sample)."""
    module, sep, last = _split_name(name)
    if not module:
        return []
    picks = rng.sample(modules, min(k + 1, len(modules)))
    return [f"{m}{sep}{last}" for m in picks if m != module][:k]


def _name_positions(code: str, name: str) -> list[int]:
    """Where ``name`` occurs as a whole name chain (not inside a longer one)."""
    found, start = [], 0
    while True:
        i = code.find(name, start)
        if i < 0:
            return found
        before = code[i - 1] if i else ""
        after = code[i + len(name)] if i + len(name) < len(code) else ""
        if not (before and (before.isalnum() or before in "_.:")) \
                and not (after and (after.isalnum() or after == "_")):
            found.append(i)
        start = i + len(name)


def _replace_name(code: str, old: str, new: str) -> str:
    parts, last = [], 0
    for i in _name_positions(code, old):
        parts.append(code[last:i])
        parts.append(new)
        last = i + len(old)
    parts.append(code[last:])
    return "".join(parts)


def _call_args_span(code: str, name: str) -> tuple[int, int] | None:
    """The ``(start, end)`` of the argument text of the first call of ``name``."""
    from luacoder_data.converters.markdown_api import _matching_paren

    for i in _name_positions(code, name):
        open_at = i + len(name)
        while open_at < len(code) and code[open_at] in " \t":
            open_at += 1
        if open_at < len(code) and code[open_at] == "(":
            close = _matching_paren(code, open_at)
            return (open_at + 1, close) if close > 0 else None
    return None


def _top_level_args(text: str) -> list[str]:
    args, depth, quote, cur = [], 0, None, ""
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        args.append(cur.strip())
    return args


def chosen_code(record: dict[str, Any], roots: set[str]) -> tuple[str, str] | None:
    """``(code, origin)``: a documented example that calls the name, else a call built from the
    signature's required parameters."""
    from luacoder_core.lua import extract_calls

    name = record["name"]
    for example in record.get("examples") or []:
        if isinstance(example, str) and any(c.name == name for c in extract_calls(example, roots)):
            return example.rstrip("\n") + "\n", "example"
    if not is_callable(record):
        return None
    params = [p for p in record.get("params") or [] if not p.get("optional") and p.get("name") != "..."]
    args = ", ".join(re.sub(r"\W", "_", p["name"]) for p in params)
    module, sep, last = _split_name(name)
    call = f"{name}({args})"
    if record.get("returns"):
        n = min(len(record["returns"]), 3)
        names = ["result", "err", "extra"][:n] if n > 1 else ["result"]
        return f"local {', '.join(names)} = {call}\n", "signature"
    return f"{call}\n", "signature"


def arity_variant(code: str, name: str, record: dict[str, Any], roots: set[str],
                  rng: random.Random) -> tuple[str, str] | None:
    """The code with the first call of ``name`` given a wrong number of arguments."""
    from luacoder_core.lua import extract_calls

    required, maximum = arity(record)
    span = _call_args_span(code, name)
    if span is None:
        return None
    args = _top_level_args(code[span[0]:span[1]])
    if maximum is not None and (required == 0 or rng.random() < 0.5):
        new_args = [*args, *rng.sample(PLACEHOLDER_ARGS, k=max(1, maximum + 1 - len(args)))]
        detail = f"{len(new_args)} arguments, documented at most {maximum}"
    elif required > 0:
        new_args = args[: required - 1]
        detail = f"{len(new_args)} arguments, documented at least {required}"
    else:
        return None
    rejected = code[: span[0]] + ", ".join(new_args) + code[span[1]:]
    if rejected == code:
        return None
    calls = [c for c in extract_calls(rejected, roots) if c.name == name]
    if not calls or calls[0].nargs is None or calls[0].open_ended:
        return None
    n = calls[0].nargs
    if required <= n and (maximum is None or n <= maximum):
        return None
    return rejected, detail


def as_answer(code: str, answer_format: str) -> str:
    return f"```lua\n{code.rstrip()}\n```" if answer_format == "markdown" else code


class ApiPreferenceConverter(Converter):
    """API records -> preference pairs: documented call (chosen) vs. hallucination (rejected)."""

    summary = ("API records -> DPO preference pairs: the documented call vs. a plausible "
               "hallucination (near-miss name, wrong module, wrong argument count).")
    output_kind = "preference"

    def params(self) -> list[click.Parameter]:
        return [
            click.Option(["--strategies"], default=",".join(STRATEGIES), show_default=True,
                         help="Comma list of hallucination kinds to draw from: name, module, arity."),
            click.Option(["--pairs-per-record"], type=click.IntRange(1, 10), default=1,
                         show_default=True, help="Pairs per record, each with another hallucination."),
            click.Option(["--answer-format"], type=click.Choice(["markdown", "code"]),
                         default="markdown", show_default=True,
                         help="chosen/rejected as a ```lua block or as bare code."),
            click.Option(["--prompt-format"], type=click.Choice(["text", "messages"]),
                         default="text", show_default=True,
                         help="prompt as a string, or as chat messages (TRL's conversational form)."),
            *common_params(split=True),
            seed_param(),
        ]

    def run(self, inputs: list[str], output: str, *, strategies: str = ",".join(STRATEGIES),
            pairs_per_record: int = 1, answer_format: str = "markdown",
            prompt_format: str = "text", test_size: float | None = None, seed: int = 0,
            **options: Any):
        chosen_strategies = [s.strip() for s in strategies.split(",") if s.strip()]
        for s in chosen_strategies:
            if s not in STRATEGIES:
                raise InputError(f"--strategies: unknown '{s}' (known: {', '.join(STRATEGIES)})")
        on_malformed = malformed_mode(options)
        index = build_index(inputs, on_malformed)
        modules = sorted({m for n in index.names if (m := module_of(n))})
        roots = index.roots
        rng = random.Random(seed)
        seen: set[bytes] = set()
        out = open_output(output, kind="preference", name="api-preference", options=options,
                          test_size=test_size, seed=seed)
        with out:
            for record, item, problem in load_api_records(inputs, on_malformed):
                if problem is not None:
                    out.count_read()
                    out.reject(None, problem, item)
                    continue
                chosen = chosen_code(record, roots) if is_callable(record) or record.get("examples") \
                    else None
                if chosen is None:
                    out.count_read()
                    out.reject(record, f"not callable ({record.get('kind') or 'no signature'}) and "
                                       f"no example that uses it", item)
                    continue
                code, origin = chosen
                used: set[str] = set()
                for _ in range(pairs_per_record):
                    out.count_read()
                    pair = self._pair(record, code, chosen_strategies, index, modules, roots, rng,
                                      used)
                    if pair is None:
                        out.reject(record, f"no plausible hallucination left: {record['name']} "
                                           f"(strategies {', '.join(chosen_strategies)})", item)
                        continue
                    rejected_code, hallucination = pair
                    values = facts(record)
                    prompt = _prompt(values, rng)
                    entry: dict[str, Any] = {
                        "prompt": prompt if prompt_format == "text"
                        else [{"role": "user", "content": prompt}],
                        "chosen": as_answer(code, answer_format),
                        "rejected": as_answer(rejected_code, answer_format),
                        "api": record["name"],
                        "chosen_from": origin,
                        "hallucination": hallucination,
                        "source": record.get("source") or {"file": item.file, "line": item.line},
                    }
                    if prompt_format == "messages":
                        entry["chosen"] = [{"role": "assistant", "content": entry["chosen"]}]
                        entry["rejected"] = [{"role": "assistant", "content": entry["rejected"]}]
                    key = hashlib.blake2b(f"{prompt}\x00{code}\x00{rejected_code}".encode(),
                                          digest_size=16).digest()
                    if key in seen:
                        out.count_duplicate()
                        continue
                    seen.add(key)
                    out.write(entry, item)
        return out.summary

    def _pair(self, record: dict[str, Any], code: str, strategies: list[str], index,
              modules: list[str], roots: set[str], rng: random.Random, used: set[str]
              ) -> tuple[str, dict[str, Any]] | None:
        from luacoder_core.lua import extract_references

        name = record["name"]
        order = list(strategies)
        rng.shuffle(order)
        for strategy in order:
            if strategy == "arity":
                if "arity" in used or not is_callable(record):
                    continue
                variant = arity_variant(code, name, record, roots, rng)
                if variant is None:
                    continue
                used.add("arity")
                return variant[0], {"kind": "arity", "name": name, "documented": name,
                                    "detail": variant[1]}
            candidates = (near_miss_names(name, rng) if strategy == "name"
                          else wrong_module_names(name, modules, rng))
            for candidate in candidates:
                if candidate in used or index.matches(candidate):
                    continue
                rejected = _replace_name(code, name, candidate)
                refs = {r.name for r in extract_references(rejected, roots)}
                if rejected == code or candidate not in refs:
                    continue
                used.add(candidate)
                return rejected, {"kind": strategy, "name": candidate, "documented": name}
        return None


def _prompt(values: dict[str, Any], rng: random.Random) -> str:
    name = values["name"]
    if values.get("task") and rng.random() < 0.5:
        root = re.split(r"[.:]", name)[0]
        return f"Using the `{root}` API, write Lua code to {values['task']}."
    if values.get("summary"):
        return f"Write Lua code that calls `{name}` ({values['summary'][0].lower()}" \
               f"{values['summary'][1:]})."
    return f"Write Lua code that calls `{name}`."
