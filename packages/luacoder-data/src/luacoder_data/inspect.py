"""``luacoder data inspect FILE``: what a dataset holds, the first thing to run on one.

Counts, the record kinds, length percentiles, role / API-kind / origin distributions and the
first records, for every format the converters read or write (JSONL, JSON, CSV, Parquet, a
``save_to_disk`` folder). ``--json`` prints one JSON object.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import click
from luacoder_core.records import Malformed

from luacoder_data.inputs import check_input_file, iter_input


def record_kind(record: Any) -> str:
    if not isinstance(record, dict):
        return "not an object"
    if "messages" in record or "conversations" in record:
        return "conversation"
    if {"prompt", "chosen", "rejected"} <= set(record):
        return "preference"
    if "content" in record:
        return "code"
    if "name" in record and ("kind" in record or "signature" in record):
        return "api"
    if "output" in record:
        return "generation"
    if "instruction" in record:
        return "alpaca"
    return "other"


def _text_length(record: dict, kind: str) -> int:
    if kind == "conversation":
        turns = record.get("messages") or record.get("conversations") or []
        return sum(len(str(t.get("content", t.get("value", "")))) for t in turns if isinstance(t, dict))
    if kind == "preference":
        return sum(len(json.dumps(record.get(k), ensure_ascii=False)) if not isinstance(record.get(k), str)
                   else len(record[k]) for k in ("prompt", "chosen", "rejected"))
    if kind == "code":
        return len(str(record.get("content", "")))
    if kind == "api":
        return len(str(record.get("description") or ""))
    if kind == "generation":
        return len(str(record.get("output", "")))
    return len(json.dumps(record, ensure_ascii=False, default=str))


def percentiles(values: list[int]) -> dict[str, int]:
    if not values:
        return {}
    values = sorted(values)
    out = {}
    for label, q in (("min", 0.0), ("p10", 0.1), ("p50", 0.5), ("p90", 0.9), ("p99", 0.99),
                     ("max", 1.0)):
        out[label] = values[min(len(values) - 1, int(round(q * (len(values) - 1))))]
    return out


def _short(value: Any, width: int = 160) -> Any:
    if isinstance(value, str):
        return value if len(value) <= width else value[: width - 3] + "..."
    if isinstance(value, list):
        return [_short(v, width) for v in value[:6]] + (["..."] if len(value) > 6 else [])
    if isinstance(value, dict):
        return {k: _short(v, width) for k, v in value.items()}
    return value


def inspect_file(path: str, head: int = 3) -> dict[str, Any]:
    check_input_file(path)
    kinds: Counter[str] = Counter()
    roles: Counter[str] = Counter()
    api_kinds: Counter[str] = Counter()
    origins: Counter[str] = Counter()
    licenses: Counter[str] = Counter()
    hallucinations: Counter[str] = Counter()
    lengths: list[int] = []
    turns: list[int] = []
    lines: list[int] = []
    flags: Counter[str] = Counter()
    first: list[Any] = []
    malformed: list[str] = []
    count = 0
    for item in iter_input(path, on_malformed="yield"):
        if isinstance(item, Malformed):
            malformed.append(f"{item.file}:{item.line}: {item.reason}")
            continue
        count += 1
        record = item.record
        kind = record_kind(record)
        kinds[kind] += 1
        if len(first) < head:
            first.append(_short(record))
        if not isinstance(record, dict):
            continue
        lengths.append(_text_length(record, kind))
        if kind == "conversation":
            msgs = [m for m in record.get("messages") or record.get("conversations") or []
                    if isinstance(m, dict)]
            turns.append(len(msgs))
            for m in msgs:
                roles[str(m.get("role", m.get("from")))] += 1
        elif kind == "api":
            api_kinds[str(record.get("kind"))] += 1
            for key in ("params", "returns", "examples"):
                if record.get(key):
                    flags[f"with {key}"] += 1
            if record.get("deprecated"):
                flags["deprecated"] += 1
        elif kind == "code":
            lines.append(str(record.get("content", "")).count("\n") + 1)
            origins[str(record.get("origin", "?"))] += 1
            lic = record.get("license")
            licenses[(lic or {}).get("spdx") or ("unknown" if lic else "none")] += 1
            if record.get("fim"):
                flags[f"fim {record['fim']}"] += 1
            if record.get("syntax_ok") is False:
                flags["syntax errors"] += 1
            if record.get("api_refs"):
                flags["with api_refs"] += 1
        elif kind == "preference":
            h = record.get("hallucination")
            if isinstance(h, dict):
                hallucinations[str(h.get("kind"))] += 1
    report: dict[str, Any] = {"file": str(path), "records": count, "malformed": len(malformed),
                              "kinds": dict(kinds.most_common()),
                              "length_chars": percentiles(lengths)}
    if malformed:
        report["malformed_first"] = malformed[:5]
    if turns:
        report["turns"] = percentiles(turns)
        report["roles"] = dict(roles.most_common())
    if api_kinds:
        report["api_kinds"] = dict(api_kinds.most_common())
    if lines:
        report["lines"] = percentiles(lines)
        report["origins"] = dict(origins.most_common())
        report["licenses"] = dict(licenses.most_common())
    if hallucinations:
        report["hallucinations"] = dict(hallucinations.most_common())
    if flags:
        report["flags"] = dict(flags.most_common())
    report["first"] = first
    return report


def _print_report(report: dict[str, Any]) -> None:
    click.echo(f"{report['file']}: {report['records']} records"
               + (f", {report['malformed']} malformed lines" if report["malformed"] else ""))
    click.echo("  kinds: " + ", ".join(f"{k} {n}" for k, n in report["kinds"].items()))
    for key, label in (("length_chars", "length (chars)"), ("lines", "lines"), ("turns", "turns")):
        if report.get(key):
            click.echo(f"  {label}: " + "  ".join(f"{k} {v}" for k, v in report[key].items()))
    for key in ("roles", "api_kinds", "origins", "licenses", "hallucinations", "flags"):
        if report.get(key):
            click.echo(f"  {key.replace('_', ' ')}: "
                       + ", ".join(f"{k} {n}" for k, n in report[key].items()))
    for line in report.get("malformed_first", []):
        click.echo(f"  malformed: {line}")
    for i, record in enumerate(report["first"], start=1):
        click.echo(f"  [{i}] " + json.dumps(record, ensure_ascii=False)[:600])


@click.command("inspect")
@click.argument("file", type=click.Path())
@click.option("--head", "head", type=click.IntRange(0), default=3, show_default=True,
              help="How many first records to show.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def inspect_command(file: str, head: int, as_json: bool) -> None:
    """Counts, length percentiles, role/kind distributions and the first records of a dataset
    (JSONL, JSON, CSV, Parquet or a datasets save_to_disk folder)."""
    report = inspect_file(file, head=head)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_report(report)
