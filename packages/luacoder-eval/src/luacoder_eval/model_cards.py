"""After a sweep: each scored checkpoint's model card (``README.md``) gets its results as
``model-index`` metadata and a table (API match, syntax-valid rate, pass@k with the Lua version).

The card format lives in :mod:`luacoder_core.model_card` (PyYAML only), so eval does not import
train. The base model's folder is never written to.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def lua_version(version: str = "5.4") -> str | None:
    """The Lua that ran the pass@k programs (the sandbox's lupa runtime of the sweep's
    ``lua_version``)."""
    try:
        from luacoder_eval.sandbox.runtime import lua_module

        return str(lua_module(version).LuaRuntime(register_eval=False).eval("_VERSION"))
    except Exception:  # noqa: BLE001 - no lupa: the card just leaves the version out
        return None


def update_cards(rows: list[dict[str, Any]], config: dict[str, Any],
                 echo: Callable[[str], None]) -> int:
    """Write each row's scores into its model folder's card; returns how many were written."""
    from luacoder_core.model_card import metric_columns, set_eval_results

    lua = None
    written = 0
    for row in rows:
        path = row.get("path")
        if row.get("kind") == "base" or not path or not Path(path).is_dir():
            continue
        if not metric_columns(row):
            continue
        if lua is None and any(k.startswith("pass@") for k in row):
            lua = lua_version(str(config.get("lua_version", "5.4"))) or ""
        test_data = Path(config["test_data_path"])
        notes = (f"Checkpoint `{row.get('checkpoint')}`"
                 + (f" (step {row['step']})" if row.get("step") is not None else "")
                 + f"; report type `{config.get('report_type')}`, {config.get('num_samples')} "
                 f"sample(s) per prompt, temperature {config.get('temperature')}.")
        try:
            ok = set_eval_results(path, row, model_name=Path(path).name,
                                  dataset_name=test_data.name, dataset_type=str(test_data),
                                  lua_version=lua or None, notes=notes)
        except OSError as exc:
            echo(f"warning: cannot update the model card in {path}: {exc}")
            continue
        written += int(ok)
    if written:
        echo(f"model cards: scores written into README.md of {written} model folder(s)")
    return written
