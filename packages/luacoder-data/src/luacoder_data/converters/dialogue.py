"""``dialogue``: ShareGPT, Alpaca, OpenAI/HF messages and prompt/response tables -> conversations.

The format is detected per file from its first record (``--input-format`` overrides it); every
record is then read in that format, validated (known roles, a user and an assistant turn, no
empty content, system only first) and written as ``{"messages": [...], "source": {...}}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import click
from luacoder_core.components import Converter
from luacoder_core.errors import InputError
from luacoder_core.records import Malformed, RecordError, Sourced, record_format, validate_conversation

from luacoder_data.inputs import iter_input
from luacoder_data.options import common_params, malformed_mode, open_output, seed_param

INPUT_FORMATS = ("auto", "sharegpt", "alpaca", "openai", "prompt-response")

SHAREGPT_ROLES = {
    "human": "user", "user": "user", "prompter": "user",
    "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant", "bot": "assistant",
    "model": "assistant", "bard": "assistant", "bing": "assistant", "claude": "assistant",
    "system": "system",
}
OPENAI_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
#: column pairs recognised without options, in order of preference
PROMPT_RESPONSE_PAIRS = (("prompt", "response"), ("prompt", "completion"), ("question", "answer"),
                         ("instruction", "response"), ("query", "response"))


class FormatMismatch(RecordError):
    """A record that does not have the keys of its file's format."""


def detect_format(record: Any, prompt_column: str | None, response_column: str | None) -> str | None:
    """The input format a record is written in, or None."""
    if not isinstance(record, dict):
        return None
    if isinstance(record.get("conversations"), list):
        return "sharegpt"
    messages = record.get("messages")
    if isinstance(messages, list):
        first = next((m for m in messages if isinstance(m, dict)), {})
        return "sharegpt" if "from" in first and "role" not in first else "openai"
    if prompt_column and response_column and prompt_column in record and response_column in record:
        return "prompt-response"
    if "instruction" in record and "output" in record:
        return "alpaca"
    if any(p in record and r in record for p, r in PROMPT_RESPONSE_PAIRS):
        return "prompt-response"
    return None


def _text(value: Any) -> str:
    """Message content: a string, or OpenAI content parts (their text joined)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        texts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in value]
        return "\n".join(t for t in texts if t).strip()
    if isinstance(value, (int, float)):
        return str(value)
    raise FormatMismatch(f"content must be text, got {type(value).__name__}")


def to_messages(record: Any, fmt: str, *, prompt_column: str, response_column: str,
                system_column: str | None = None) -> list[dict[str, str]]:
    """Read one record in format ``fmt`` as a list of ``{"role", "content"}`` messages."""
    if not isinstance(record, dict):
        raise FormatMismatch(f"a record must be a JSON object, got {type(record).__name__}")
    messages: list[dict[str, str]] = []
    if fmt == "sharegpt":
        turns = record.get("conversations", record.get("messages"))
        if not isinstance(turns, list):
            raise FormatMismatch("not ShareGPT: missing 'conversations' list")
        if isinstance(record.get("system"), str) and record["system"].strip():
            messages.append({"role": "system", "content": record["system"].strip()})
        for i, turn in enumerate(turns):
            if not isinstance(turn, dict) or "from" not in turn:
                raise FormatMismatch(f"conversations[{i}] has no 'from'")
            speaker = str(turn["from"]).strip().lower()
            role = SHAREGPT_ROLES.get(speaker)
            if role is None:
                raise FormatMismatch(f"conversations[{i}] has unknown speaker {turn['from']!r}")
            messages.append({"role": role, "content": _text(turn.get("value"))})
    elif fmt == "openai":
        turns = record.get("messages")
        if not isinstance(turns, list):
            raise FormatMismatch("not OpenAI messages: missing 'messages' list")
        for i, turn in enumerate(turns):
            if not isinstance(turn, dict) or "role" not in turn:
                raise FormatMismatch(f"messages[{i}] has no 'role'")
            role = OPENAI_ROLES.get(str(turn["role"]).strip().lower())
            if role is None:
                raise FormatMismatch(f"messages[{i}] has unknown role {turn['role']!r}")
            messages.append({"role": role, "content": _text(turn.get("content"))})
    elif fmt == "alpaca":
        if "instruction" not in record or "output" not in record:
            missing = "instruction" if "instruction" not in record else "output"
            raise FormatMismatch(f"not Alpaca: missing '{missing}'")
        if isinstance(record.get("system"), str) and record["system"].strip():
            messages.append({"role": "system", "content": record["system"].strip()})
        prompt = _text(record.get("instruction"))
        extra = _text(record.get("input"))
        if extra:
            prompt = f"{prompt}\n\n{extra}" if prompt else extra
        messages.append({"role": "user", "content": prompt})
        messages.append({"role": "assistant", "content": _text(record.get("output"))})
    elif fmt == "prompt-response":
        for column in (prompt_column, response_column):
            if column not in record:
                raise FormatMismatch(f"missing '{column}'")
        if system_column and _text(record.get(system_column)):
            messages.append({"role": "system", "content": _text(record[system_column])})
        messages.append({"role": "user", "content": _text(record[prompt_column])})
        messages.append({"role": "assistant", "content": _text(record[response_column])})
    else:  # pragma: no cover - click restricts the choices
        raise ValueError(fmt)
    return messages


def merge_same_role(messages: list[dict[str, str]], mode: str) -> list[dict[str, str]]:
    """Merge consecutive turns of one role (``merge``) or raise (``reject``)."""
    out: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        if out and out[-1]["role"] == message["role"]:
            if mode == "reject":
                raise RecordError(f"messages[{i}]: two consecutive {message['role']} turns")
            if message["content"]:
                joined = f"{out[-1]['content']}\n\n{message['content']}" if out[-1]["content"] \
                    else message["content"]
                out[-1] = {"role": message["role"], "content": joined}
            continue
        out.append(dict(message))
    return out


def conversation_key(messages: list[dict[str, str]]) -> bytes:
    text = json.dumps([[m["role"], m["content"]] for m in messages], ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class DialogueConverter(Converter):
    """ShareGPT, Alpaca, OpenAI messages and prompt/response CSV/JSONL -> conversations."""

    summary = "ShareGPT, Alpaca, OpenAI messages, prompt/response CSV or JSONL -> conversations."
    output_kind = "conversation"

    def params(self) -> list[click.Parameter]:
        return [
            click.Option(["--input-format"], type=click.Choice(INPUT_FORMATS), default="auto",
                         show_default=True,
                         help="Format of every input file; auto detects it per file from its "
                              "first record."),
            click.Option(["--prompt-column"], default=None,
                         help="Prompt column of prompt/response tables [default: prompt, or a "
                              "known pair: prompt/completion, question/answer, ...]."),
            click.Option(["--response-column"], default=None,
                         help="Response column of prompt/response tables [default: response]."),
            click.Option(["--system-column"], default=None,
                         help="Optional column holding a system prompt."),
            click.Option(["--system-prompt"], default=None,
                         help="System message added to conversations that have none."),
            click.Option(["--same-role"], type=click.Choice(["merge", "reject"]), default="merge",
                         show_default=True,
                         help="Consecutive turns of one role: merge them or reject the record."),
            click.Option(["--keep-duplicates"], is_flag=True,
                         help="Keep exact duplicate conversations (removed and counted by default)."),
            *common_params(split=True),
            seed_param(),
        ]

    def run(self, inputs: list[str], output: str, *, input_format: str = "auto",
            prompt_column: str | None = None, response_column: str | None = None,
            system_column: str | None = None, system_prompt: str | None = None,
            same_role: str = "merge", keep_duplicates: bool = False,
            test_size: float | None = None, seed: int = 0, **options: Any):
        for path in inputs:  # fail before writing anything when an input is missing
            if not Path(path).exists():
                raise InputError("file not found", file=path)
        seen: set[bytes] = set()
        out = open_output(output, kind="conversation", name="dialogue", options=options,
                          test_size=test_size, seed=seed)
        with out:
            for path in inputs:
                fmt, items = self._open(path, input_format, prompt_column, response_column,
                                        system_column, malformed_mode(options))
                for item in items:
                    out.count_read()
                    if isinstance(item, Malformed):
                        out.reject(None, item.reason, item)
                        continue
                    try:
                        messages = to_messages(
                            item.record, fmt,
                            prompt_column=prompt_column or _pair_for(item.record)[0],
                            response_column=response_column or _pair_for(item.record)[1],
                            system_column=system_column)
                        if system_prompt and messages and messages[0]["role"] != "system":
                            messages.insert(0, {"role": "system", "content": system_prompt})
                        messages = merge_same_role(messages, same_role)
                        validate_conversation({"messages": messages})
                    except RecordError as exc:
                        out.reject(item.record, str(exc), item)
                        continue
                    if not keep_duplicates:
                        key = conversation_key(messages)
                        if key in seen:
                            out.count_duplicate()
                            continue
                        seen.add(key)
                    out.write({"messages": messages,
                               "source": {"file": item.file, "line": item.line, "format": fmt}},
                              item)
        return out.summary

    def _open(self, path: str, input_format: str, prompt_column: str | None,
              response_column: str | None, system_column: str | None,
              on_malformed: str) -> tuple[str, Iterator[Sourced | Malformed]]:
        tabular = record_format(path) in ("csv", "tsv")
        explicit_pr = input_format == "prompt-response" or prompt_column or response_column
        columns: list[str] = []
        if tabular and explicit_pr:
            columns = [prompt_column or "prompt", response_column or "response"]
            if system_column:
                columns.append(system_column)
        items = iter_input(path, on_malformed=on_malformed, columns=columns)
        if input_format != "auto":
            return input_format, items
        head: list[Sourced | Malformed] = []
        fmt = None
        for item in items:
            head.append(item)
            if isinstance(item, Sourced):
                fmt = detect_format(item.record, prompt_column, response_column)
                break
        rest = chain(head, items)
        if fmt is None:
            if not head:
                return "openai", rest  # an empty file: nothing to read
            if tabular:
                header = list(head[-1].record) if isinstance(head[-1], Sourced) else []
                missing = prompt_column or "prompt"
                if prompt_column is None and "prompt" in header:
                    missing = response_column or "response"
                raise InputError(f"no column '{missing}' (columns: {', '.join(header)}); set "
                                 f"--prompt-column/--response-column", file=path, line=1)
            where = head[-1]
            raise InputError("cannot tell the dialogue format of the first record (expected "
                             "ShareGPT 'conversations', OpenAI 'messages', Alpaca 'instruction'/"
                             "'output' or prompt/response columns); use --input-format",
                             file=where.file, line=where.line)
        return fmt, rest


def _pair_for(record: Any) -> tuple[str, str]:
    if isinstance(record, dict):
        for prompt, response in PROMPT_RESPONSE_PAIRS:
            if prompt in record and response in record:
                return prompt, response
    return "prompt", "response"
