"""Test prompts for generation: a CSV with a ``prompt`` column (the seed's format), JSONL/JSON
records with ``prompt`` (or chat ``messages``), Parquet, or a ``.txt`` file with one prompt per
line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from luacoder_core.errors import InputError


def load_prompts(path: str | Path, column: str = "prompt") -> list[Any]:
    """Every prompt of ``path``: a ``str``, or a list of chat messages (a record's
    ``messages`` up to its last user turn)."""
    from luacoder_core.records import Sourced, iter_records, require_columns

    path = Path(path)
    if not path.exists():
        raise InputError("prompts file not found", file=str(path))
    if path.suffix.lower() == ".txt":
        text = path.read_bytes().decode("utf-8", "replace")
        prompts = [line for line in text.splitlines() if line.strip()]
        if not prompts:
            raise InputError("no prompts in this file", file=str(path))
        return prompts
    require_columns(path, [column])
    prompts: list[Any] = []
    for item in iter_records(path):
        assert isinstance(item, Sourced)
        record = item.record
        if not isinstance(record, dict):
            raise InputError("a prompt record must be an object", file=item.file, line=item.line)
        value = record.get(column)
        if isinstance(value, str) and value.strip():
            prompts.append(value)
            continue
        messages = record.get("messages")
        if value is None and isinstance(messages, list) and messages:
            last_user = max((i for i, m in enumerate(messages)
                             if isinstance(m, dict) and m.get("role") == "user"), default=None)
            if last_user is not None:
                prompts.append([dict(m) for m in messages[: last_user + 1]])
                continue
        raise InputError(f"no '{column}' text (or chat 'messages') in this record",
                         file=item.file, line=item.line, key=column)
    if not prompts:
        raise InputError("no prompts in this file", file=str(path))
    return prompts


def prompt_text(prompt: Any) -> str:
    """A prompt as one string (for generation records)."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(str(m.get("content", "")) for m in prompt if isinstance(m, dict))
