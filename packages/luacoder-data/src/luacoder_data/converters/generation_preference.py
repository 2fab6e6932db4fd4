"""``generation-preference``: a model's own sampled answers -> preference pairs, labelled by the
API checker (on-policy pairs for DPO).

Sample the model several times per prompt (``luacoder eval generate MODEL --chat --prompts FILE
--num-samples 8 --temperature 1 -o samples.jsonl``), then, for each prompt, pair an answer that
uses only documented API names (and whose Lua parses) as ``chosen`` with an answer that invents a
name as ``rejected``. The pairs hold the mistakes this model makes, in the words it makes them,
which off-policy pairs (``api-preference``'s near-misses) may not.

The checks are DESIGN.md's: references collected as the API match metric collects them (report
type ``markdown``: ```lua and untagged fenced blocks plus inline code spans; ``code``: the whole
text), matched with core's ``ApiIndex``; syntax with core's ``check_syntax`` on the fenced blocks
(``markdown``: an answer without one is not a good answer) or the whole text (``code``).

Counting is per prompt: ``read`` = prompts (plus unusable input lines) = pairs written + prompts
rejected (no answer invents a name, or none is clean) + duplicates. One pair per prompt, the
answers drawn with ``--seed``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import click
from luacoder_core.components import Converter
from luacoder_core.errors import InputError
from luacoder_core.records import Malformed

from luacoder_data.inputs import iter_input
from luacoder_data.options import common_params, malformed_mode, open_output, seed_param


def load_index(paths: tuple[str, ...] | list[str]):
    from luacoder_core.lua import ApiIndex

    names: list[str] = []
    for path in paths:
        for item in iter_input(path):
            if isinstance(item, Malformed) or not isinstance(item.record, dict):
                continue
            if isinstance(item.record.get("name"), str):
                names.append(item.record["name"])
    if not names:
        raise InputError("no API records with a 'name'", file=str(paths[0]) if paths else None,
                         key="--api")
    return ApiIndex(names)


def judge(text: str, index: Any, report_type: str) -> tuple[list[str], list[str], bool]:
    """``(documented names, invented names, syntax ok)`` of one answer."""
    from luacoder_core.lua import check_syntax

    if report_type == "markdown":
        from luacoder_core.markdown import code_blocks, lua_code

        chunks = lua_code(text)
        blocks = [b.code for b in code_blocks(text) if b.lang in ("lua", "") and b.code.strip()]
    else:
        chunks = [text] if text.strip() else []
        blocks = chunks
    names: dict[str, None] = {}
    for chunk in chunks:
        for ref in index.references(chunk):  # DESIGN.md's rule, bare roots left out
            names.setdefault(ref.name)
    good = [n for n in names if index.matches(n)]
    bad = [n for n in names if not index.matches(n)]
    parses = bool(blocks) and all(check_syntax(b).ok for b in blocks)
    return good, bad, parses


class GenerationPreferenceConverter(Converter):
    """Sampled answers -> pairs: one using only documented names (chosen) vs one inventing a name."""

    summary = ("A model's sampled answers -> DPO pairs: an answer using only documented API names "
               "(chosen) vs. one that invents a name (rejected), per prompt.")
    output_kind = "preference"

    def params(self) -> list[click.Parameter]:
        return [
            click.Option(["--api", "api_files"], multiple=True, required=True,
                         type=click.Path(dir_okay=False), help="API records (repeatable)."),
            click.Option(["--report-type"], type=click.Choice(["markdown", "code"]),
                         default="markdown", show_default=True,
                         help="How answers hold Lua: chat answers (markdown) or bare code."),
            click.Option(["--chosen-may-fail-syntax"], is_flag=True,
                         help="Accept a chosen answer whose Lua does not parse."),
            click.Option(["--column"], default="output", show_default=True,
                         help="Field of each generation record that holds the answer."),
            *common_params(split=True),
            seed_param(),
        ]

    def run(self, inputs: list[str], output: str, *, api_files: tuple[str, ...] = (),
            report_type: str = "markdown", chosen_may_fail_syntax: bool = False,
            column: str = "output", test_size: float | None = None, seed: int = 0,
            **options: Any):
        if not api_files:
            raise InputError("--api is required", key="--api")
        index = load_index(api_files)
        on_malformed = malformed_mode(options)
        rng = random.Random(seed)
        out = open_output(output, kind="preference", name="generation-preference",
                          options=options, test_size=test_size, seed=seed)
        groups: dict[str, list[tuple[str, Any]]] = {}
        with out:
            for path in inputs:
                if not Path(path).exists():
                    raise InputError("file not found", file=path)
                for item in iter_input(path, on_malformed=on_malformed):
                    if isinstance(item, Malformed):
                        out.count_read()
                        out.reject(None, item.reason, item)
                        continue
                    record = item.record
                    prompt = record.get("prompt") if isinstance(record, dict) else None
                    answer = record.get(column) if isinstance(record, dict) else None
                    if isinstance(prompt, list):  # chat messages: the last user turn
                        users = [m.get("content") for m in prompt if isinstance(m, dict)
                                 and m.get("role") == "user"]
                        prompt = users[-1] if users else None
                    if not isinstance(prompt, str) or not isinstance(answer, str):
                        out.count_read()
                        out.reject(record, f"a generation record needs a string 'prompt' and "
                                           f"'{column}'", item)
                        continue
                    groups.setdefault(prompt, []).append((answer, item))
            for prompt, answers in groups.items():
                out.count_read()
                clean, invented = [], []
                for answer, item in answers:
                    good, bad, parses = judge(answer, index, report_type)
                    if bad:
                        invented.append((answer, bad, item))
                    elif good and (parses or chosen_may_fail_syntax):
                        clean.append((answer, item))
                first = answers[0][1]
                summary = {"prompt": prompt, "answers": len(answers)}
                if not invented:
                    out.reject(summary, f"none of its {len(answers)} answers invents an API name",
                               first)
                    continue
                if not clean:
                    out.reject(summary, f"none of its {len(answers)} answers uses only documented "
                                        "names" + ("" if chosen_may_fail_syntax else " in Lua that parses"),
                               first)
                    continue
                chosen, _ = rng.choice(clean)
                rejected, names, item = rng.choice(invented)
                out.write({"prompt": prompt, "chosen": chosen, "rejected": rejected,
                           "hallucination": {"names": names}, "answers": len(answers)}, item)
        return out.summary
