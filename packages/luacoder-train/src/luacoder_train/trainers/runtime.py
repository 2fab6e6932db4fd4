"""What every luacoder trainer adds to its TRL trainer: token throughput in the logs, a console
progress line, and atomic checkpoints with ``luacoder.json``. Imported only when training runs."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from luacoder_train.outputs import checkpoints as ckpt


def _packed_inputs(inputs) -> None:
    """Packed rows carry position ids and no attention mask; transformers derives the
    block-diagonal mask from them only when no KV cache is in play."""
    if "position_ids" in inputs and "attention_mask" not in inputs:
        inputs["use_cache"] = False


class LuacoderMixin:
    """Mixed in front of a transformers/TRL trainer class (see :func:`with_luacoder`)."""

    luacoder_meta: dict[str, Any]

    def _lc_state(self) -> dict[str, Any]:
        state = self.__dict__.get("_lc")
        if state is None:
            state = self.__dict__["_lc"] = {"tokens": 0, "mark_tokens": 0, "mark_time": None}
        return state

    def training_step(self, model, inputs, num_items_in_batch=None):
        state = self._lc_state()
        if state["mark_time"] is None:
            state["mark_time"] = time.perf_counter()
        n = inputs.pop("num_real_tokens", None)
        if n is None:
            mask = inputs.get("attention_mask")
            n = mask.sum() if mask is not None else inputs["input_ids"].numel()
        state["tokens"] += int(n)
        _packed_inputs(inputs)
        return super().training_step(model, inputs, num_items_in_batch)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs.pop("num_real_tokens", None)
        _packed_inputs(inputs)
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        state = self._lc_state()
        if "loss" in logs and state["mark_time"] is not None:
            now = time.perf_counter()
            world = max(1, self.args.world_size)
            elapsed = max(now - state["mark_time"], 1e-9)
            logs["tokens_per_second"] = round((state["tokens"] - state["mark_tokens"]) * world / elapsed, 1)
            logs["num_tokens_seen"] = state["tokens"] * world
            state["mark_time"], state["mark_tokens"] = now, state["tokens"]
        super().log(logs, start_time)

    def _lc_card(self, folder, *, step: int | None, final: bool) -> None:
        """The model card (README.md) of a checkpoint or the final model."""
        info = getattr(self, "luacoder_card", None)
        if info is None:
            return
        from luacoder_train.outputs.model_card import save_card

        losses = [e["loss"] for e in self.state.log_history if "loss" in e]
        save_card(folder, info, step=step, final=final, loss=losses[-1] if losses else None)

    def create_model_card(self, *args, **kwargs) -> None:
        """TRL writes its stub card into output_dir at every checkpoint and before a hub push;
        luacoder writes its own card, once the final model is there (checkpoints get theirs in
        their folder)."""
        if not self.is_world_process_zero() or not getattr(self, "_lc_final", False):
            return
        self._lc_card(self.args.output_dir, step=self.state.global_step, final=True)

    def _save_checkpoint(self, model, trial) -> None:
        """Write the checkpoint under ``.staging/``, then rename it into place."""
        step = self.state.global_step
        output_dir = Path(self.args.output_dir)
        staging_root = output_dir / ckpt.STAGING
        self._get_output_dir = lambda trial=None: str(staging_root)  # type: ignore[method-assign]
        try:
            super()._save_checkpoint(model, trial)
        finally:
            del self._get_output_dir
        staged = staging_root / f"checkpoint-{step}"
        final = output_dir / f"checkpoint-{step}"
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            if self.processing_class is not None and not (staged / "tokenizer_config.json").exists():
                self.processing_class.save_pretrained(staged)
            self._lc_card(staged, step=step, final=False)
            ckpt.write_meta(staged, {**self.luacoder_meta, "step": step, "final": False})
            ckpt.publish(staged, final)
            if self.state.best_model_checkpoint and ckpt.STAGING in self.state.best_model_checkpoint:
                self.state.best_model_checkpoint = self.state.best_model_checkpoint.replace(
                    f"{os.sep}{ckpt.STAGING}", "")
            from transformers.trainer_utils import rotate_checkpoints

            rotate_checkpoints(output_dir=str(output_dir), save_total_limit=self.args.save_total_limit,
                               best_model_checkpoint=self.state.best_model_checkpoint, use_mtime=False)
        self.accelerator.wait_for_everyone()


def with_luacoder(base_cls: type) -> type:
    return type(f"Luacoder{base_cls.__name__}", (LuacoderMixin, base_cls), {})


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ConsoleProgress(TrainerCallback):
    """One line per log: step, loss, learning rate, tokens/s, elapsed and remaining time."""

    def __init__(self, name: str, stream=None) -> None:
        self.name = name
        self.stream = stream or sys.stdout
        self.start: float | None = None
        self.start_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()
        self.start_step = state.global_step
        if state.is_world_process_zero:
            resumed = f", resuming at step {state.global_step}" if state.global_step else ""
            print(f"[{self.name}] training {state.max_steps} steps{resumed}", file=self.stream, flush=True)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        elapsed = time.perf_counter() - (self.start or time.perf_counter())
        step, total = state.global_step, max(state.max_steps, 1)
        if "loss" in logs:
            done = step - self.start_step
            eta = elapsed / done * (total - step) if done > 0 else 0.0
            parts = [f"[{self.name}] step {step}/{total} ({step / total:4.0%})",
                     f"loss {logs['loss']:.4f}"]
            if "learning_rate" in logs:
                parts.append(f"lr {logs['learning_rate']:.2e}")
            for key in ("rewards/accuracies", "mean_token_accuracy", "reward", "task/pass_rate"):
                if isinstance(logs.get(key), (int, float)):
                    parts.append(f"{key.split('/')[-1]} {logs[key]:.3f}")
            if "tokens_per_second" in logs:
                parts.append(f"{logs['tokens_per_second']:,.0f} tok/s")
            parts.append(f"{_clock(elapsed)} elapsed, {_clock(eta)} left")
            print("  ".join(parts), file=self.stream, flush=True)
        elif "eval_loss" in logs:
            print(f"[{self.name}] step {step}/{total} eval_loss {logs['eval_loss']:.4f}",
                  file=self.stream, flush=True)
        elif "train_runtime" in logs:
            print(f"[{self.name}] done: {step} steps in {logs['train_runtime']:.1f}s, mean loss "
                  f"{logs.get('train_loss', float('nan')):.4f}", file=self.stream, flush=True)


def install_console(trainer, name: str) -> None:
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for cls in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(cls)
    trainer.add_callback(ConsoleProgress(name))


def _is_task_key(key: str) -> bool:
    """RL rewards and task metrics drawn in a second panel: ``reward``, ``rewards/<name>/mean``
    and the ``task/`` rates and shares (values in [0, 1]-ish, not timings or counts)."""
    if key == "reward" or (key.startswith("rewards/") and key.endswith("/mean")):
        return True
    if key.startswith("eval/") and ("pass@" in key or key.endswith(("_rate", "accuracy"))):
        return True  # eval_on_save's scores of each checkpoint
    return key.startswith("task/") and key.endswith(("_rate", "accuracy"))


def plot_curve(log_history: list[dict[str, Any]], path: str | Path, title: str) -> bool:
    """``training_curve.png``: training loss (and eval loss) by step, and for RL trainers a
    second panel with the reward and the task metrics. False when nothing logged."""
    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e and "step" in e]
    evals = [(e["step"], e["eval_loss"]) for e in log_history if "eval_loss" in e and "step" in e]
    if not train and not evals:
        return False
    task_keys = sorted({k for e in log_history if "step" in e for k, v in e.items()
                        if _is_task_key(k) and isinstance(v, (int, float))})
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    if task_keys:
        fig, (ax, task_ax) = plt.subplots(2, 1, figsize=(7, 7), dpi=100, sharex=True)
        for key in task_keys:
            points = [(e["step"], e[key]) for e in log_history
                      if "step" in e and isinstance(e.get(key), (int, float))]
            task_ax.plot(*zip(*points), label=key, linewidth=2.0 if key == "reward" else 1.0)
        task_ax.set_xlabel("step")
        task_ax.set_ylabel("reward / task metric")
        task_ax.grid(alpha=0.3)
        task_ax.legend(fontsize="small")
    else:
        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(*zip(*train), label="train loss", linewidth=1.2)
    if evals:
        ax.plot(*zip(*evals), "o-", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return True
