"""YAML configs: loading, ``--set a.b=value`` overrides, and strict validation.

Every error is a :class:`~luacoder_core.errors.ConfigError` (exit code 2) naming the file and the
key; an unknown key suggests the closest known one.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from luacoder_core.errors import ConfigError


def closest(name: str, known: typing.Iterable[str]) -> str | None:
    """The known name closest to ``name``, or ``None`` when nothing is close."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_key_message(key: str, known: typing.Iterable[str]) -> str:
    suggestion = closest(key.rsplit(".", 1)[-1], known)
    hint = f"; did you mean '{suggestion}'?" if suggestion else ""
    return f"unknown key '{key}'{hint}"


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 ({exc.reason} at byte {exc.start})", file=str(path)) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", file=str(path), line=line) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"the top level must be a mapping of keys, not {type(data).__name__}",
                          file=str(path))
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=3"`` -> (``["a", "b"]``, ``3``); the value is read as YAML (``1e-4``, ``true``)."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got '{text}'")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set has an empty key in '{text}'")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    # YAML 1.1 reads 1e-4 as a string; people mean a number
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            pass
    return key.split("."), value


def apply_overrides(config: dict[str, Any], overrides: typing.Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``config`` with each ``key.path=value`` applied."""
    result = _deepcopy(config)
    for text in overrides:
        keys, value = parse_override(text)
        node = result
        for i, part in enumerate(keys[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"--set {text}: '{'.'.join(keys[:i + 1])}' is not a mapping")
            node = child
        node[keys[-1]] = value
    return result


def load_config(path: str | Path | None, overrides: typing.Iterable[str] = (),
                schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Load a YAML config, apply ``--set`` overrides, and validate it against ``schema``."""
    config = load_yaml(path) if path is not None else {}
    config = apply_overrides(config, overrides)
    if schema is not None:
        check_config(config, schema, source=str(path) if path is not None else "--set")
    return config


def _deepcopy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deepcopy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------


def type_name(tp: Any) -> str:
    if tp is Any:
        return "any"
    if isinstance(tp, dict):
        return "mapping"
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        return getattr(origin, "__name__", str(origin))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def type_ok(value: Any, tp: Any) -> bool:
    """Whether a YAML value fits an annotation (int for float is fine, bool for int is not)."""
    if tp is Any or tp is object:
        return True
    if isinstance(tp, dict):
        return isinstance(value, dict)
    if isinstance(tp, str):  # an unresolved forward reference: be lenient
        return True
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(type_ok(value, a) for a in typing.get_args(tp))
    if origin in (list, tuple, set, typing.Sequence, typing.Iterable):
        return isinstance(value, (list, tuple))
    if origin in (dict, typing.Mapping):
        return isinstance(value, dict)
    if origin is not None:
        return True
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(tp, type):
        if issubclass(tp, __import__("enum").Enum):
            return value in {m.value for m in tp} or value in tp.__members__
        try:
            return isinstance(value, tp)
        except TypeError:
            return True
    return True


def check_config(config: Mapping[str, Any], schema: Mapping[str, Any], *, source: str,
                 prefix: str = "") -> None:
    """Reject unknown keys (with the closest known key) and values of the wrong type.

    ``schema`` maps each key to an annotation (``int``, ``str | None``, ``Literal[...]``) or to a
    nested schema dict.
    """
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if key not in schema:
            raise ConfigError(unknown_key_message(dotted, schema), file=source)
        tp = schema[key]
        if isinstance(tp, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"key '{dotted}' must be a mapping, got {value!r}", file=source)
            check_config(value, tp, source=source, prefix=f"{dotted}.")
        elif not type_ok(value, tp):
            raise ConfigError(
                f"key '{dotted}' must be {type_name(tp)}, got {value!r} ({type(value).__name__})",
                file=source,
            )


def schema_from_dataclass(cls: type) -> dict[str, Any]:
    """Field name -> annotation of a dataclass (a TRL/transformers config, say)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # annotations that do not resolve at runtime: check names only
        hints = {}
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}
