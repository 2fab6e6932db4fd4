"""``eval_on_save``: score each checkpoint with the eval sweep while training runs.

The recipe key takes an eval sweep config (a YAML path, or the mapping inline) without
``base_folder``: at every save, ``luacoder eval run`` sweeps the run's ``output_dir`` in a separate
process (the sweep skips checkpoints it already scored, so each save scores only the new one),
writing its usual report to ``<output_dir>/eval`` unless the config names another ``output_dir``.
The new checkpoint's scalar metrics are logged as ``eval/<metric>`` with the training logs (and
so drawn in ``training_curve.png`` when they are rates) and written into its ``luacoder.json``
(``eval``). A failed sweep is a warning: training goes on. Keep the prompt set small
(``prompts_limit``, ``problems_limit``, ``max_new_tokens``): the sweep runs while training waits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from luacoder_core.errors import ConfigError

from luacoder_train.outputs import checkpoints as ckpt

KEY = "eval_on_save"


def resolve_eval_config(value: Any, source: str) -> dict[str, Any]:
    """The sweep config of ``eval_on_save`` (a path relative to the recipe, or a mapping), with
    relative paths inside it made absolute; config error (exit 2) when unusable."""
    import importlib.util

    if importlib.util.find_spec("luacoder_eval") is None:
        raise ConfigError(f"{KEY}: pip install luacoder-eval (it runs the eval sweep)", file=source,
                          key=KEY)
    base = Path(source).parent
    if isinstance(value, str):
        from luacoder_core.config import load_yaml

        path = Path(value) if Path(value).is_absolute() else base / value
        if not path.is_file():
            raise ConfigError(f"{KEY}: no eval config at {path}", file=source, key=KEY)
        config, base = load_yaml(path), path.parent
    elif isinstance(value, dict):
        config = dict(value)
    else:
        raise ConfigError(f"{KEY} must be the path of an eval sweep config or a mapping, got "
                          f"{value!r}", file=source, key=KEY)
    if "base_folder" in config:
        raise ConfigError(f"{KEY}: leave base_folder out (it is this run's output_dir)",
                          file=source, key=f"{KEY}.base_folder")
    for key in ("api_path", "test_data_path", "problems_path", "base_model", "output_dir"):
        value = config.get(key)
        if isinstance(value, str) and value and not Path(value).is_absolute() and (base / value).exists():
            config[key] = str((base / value).resolve())
    return config


def scalar_metrics(row: dict[str, Any]) -> dict[str, float]:
    skip = {"step", "score_seconds", "gen_seconds", "new_tokens"}
    return {f"eval/{k}": float(v) for k, v in row.items()
            if k not in skip and isinstance(v, (int, float)) and not isinstance(v, bool)}


class EvalOnSave:
    """Runs the sweep after each checkpoint is published (main process only)."""

    def __init__(self, config: dict[str, Any], output_dir: str | Path) -> None:
        self.output_dir = Path(output_dir)
        self.config = {**config, "base_folder": str(self.output_dir)}
        self.config.setdefault("output_dir", str(self.output_dir / "eval"))
        self.trainer = None

    def run(self, step: int) -> dict[str, float]:
        import yaml

        eval_dir = Path(self.config["output_dir"])
        eval_dir.mkdir(parents=True, exist_ok=True)
        config_path = eval_dir / "eval_on_save.yaml"
        tmp = config_path.with_name(f".{config_path.name}.tmp")
        tmp.write_text(yaml.safe_dump(self.config, sort_keys=False), encoding="utf-8")
        os.replace(tmp, config_path)
        command = [sys.executable, "-m", "luacoder_core", "eval", "run", str(config_path)]
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            print(f"warning: {KEY} at step {step}: `luacoder eval run` exited {proc.returncode}: "
                  + " | ".join(tail), file=sys.stderr, flush=True)
            return {}
        try:
            results = json.loads((eval_dir / "results.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"warning: {KEY} at step {step}: no results.json ({exc})", file=sys.stderr)
            return {}
        name = f"checkpoint-{step}"
        row = next((r for r in results.get("rows", []) if r.get("checkpoint") == name), None)
        if row is None:
            return {}
        metrics = scalar_metrics(row)
        folder = self.output_dir / name
        meta = ckpt.read_meta(folder)
        if meta is not None:
            ckpt.write_meta(folder, {**meta, "eval": {k[len("eval/"):]: v for k, v in metrics.items()}})
        return metrics

    def callback(self):
        from transformers import TrainerCallback

        owner = self

        class _Callback(TrainerCallback):
            def on_save(self, args, state, control, **kwargs):
                if not state.is_world_process_zero:
                    return
                metrics = owner.run(state.global_step)
                if metrics and owner.trainer is not None:
                    owner.trainer.log(metrics)

        return _Callback()
