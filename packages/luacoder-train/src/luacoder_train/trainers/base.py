"""The base every luacoder trainer subclasses (cheap to import: no torch here).

A trainer declares its method keys and defaults and implements three steps, each called with the
heavy libraries loaded: :meth:`prepare` (records -> model-ready rows), :meth:`describe` (the dry
run's first example) and :meth:`build` (the TRL trainer). Config, model and tokenizer loading,
dataset loading, PEFT, DeepSpeed, checkpoints, resume, progress and the training curve are shared
in :mod:`luacoder_train.pipeline`. A third-party trainer (GRPO, say) subclasses this and
registers through ``register_trainers`` the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from luacoder_core.components import Trainer


@dataclass
class Context:
    """Everything a trainer's steps need, filled in by the pipeline."""

    name: str
    resolved: Any  # luacoder_train.recipe.config.Resolved
    args: Any  # the TRL config
    tokenizer: Any
    template: str | None = None
    train_records: Any = None
    eval_records: Any = None
    train_dataset: Any = None
    eval_dataset: Any = None
    data_files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    collator: Any = None
    model: Any = None
    peft_config: Any = None
    stats: Any = None
    notes: list[str] = field(default_factory=list)
    #: one dict per training / eval source: where it came from, rows read, rows used
    provenance: list[dict] = field(default_factory=list)
    eval_provenance: list[dict] = field(default_factory=list)

    @property
    def options(self) -> dict[str, Any]:
        return self.resolved.options


class BaseTrainer(Trainer):
    name: str = ""
    summary: str = ""
    #: record fields the trainer reads
    columns: tuple[str, ...] = ()
    #: luacoder keys of this method (name -> annotation) and their defaults
    method_keys: dict[str, Any] = {}
    method_defaults: dict[str, Any] = {}
    #: TRL fields whose default luacoder changes for this method
    trl_defaults: dict[str, Any] = {}
    #: needs a chat template
    uses_chat_template: bool = False

    def config_class(self) -> type:
        from trl import SFTConfig

        return SFTConfig

    def record_columns(self, ctx: Context) -> list[str]:
        """The record fields to load (the rest of each record is dropped)."""
        return list(self.columns)

    def validate_record(self, record: dict) -> None:
        """Raise ``ValueError`` for a record the trainer cannot use."""

    def adapt_records(self, dataset, where: str):
        """Rewrite one source's records into the trainer's form before the columns are checked
        (the default keeps them as they are)."""
        return dataset

    def prepare(self, ctx: Context) -> None:
        raise NotImplementedError

    def describe(self, ctx: Context) -> str:
        raise NotImplementedError

    def build(self, ctx: Context):
        raise NotImplementedError

    def run(self, config: dict, *, source: str | None = None, dry_run: bool = False,
            **options: Any) -> Any:
        """Validate ``config``, prepare the data and train (or, with ``dry_run``, show).

        ``callbacks`` (Python API only): extra ``transformers.TrainerCallback`` objects.
        Returns a summary dict (output_dir, steps, first/last loss) or, for a dry run, the
        data statistics."""
        from luacoder_train.pipeline import run_trainer

        return run_trainer(self, config, source=source or "<config>", dry_run=dry_run,
                           callbacks=options.get("callbacks"))
