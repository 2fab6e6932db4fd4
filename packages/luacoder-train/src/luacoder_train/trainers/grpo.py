"""``luacoder train grpo``: RL with verifiable rewards, TRL's GRPO with luacoder's checks as rewards.

A recipe names its rewards (plugins registered through ``register_rewards``)::

    rewards: [lua_tests, lua_syntax]            # weight 1 each
    rewards:                                    # or name -> weight / {weight, options}
      lua_tests: {weight: 1.0, options: {grading: share, timeout: 2}}
      lua_syntax: 0.2
      api_grounded: {weight: 0.5, options: {hallucination_penalty: 1.0}}
    api_path: data/api.jsonl                    # the API records api_grounded checks against

Data: ``{"prompt": "local function f(x)\\n", "tests": "...", "stop_tokens": [...]}`` rows
(MultiPL-E problems as they are: the model continues the function header; report type ``code``) or
chat prompts (``prompt`` as a message list, or a ``messages`` conversation whose last assistant
turns are dropped; report type ``markdown``). Every other column of the records reaches the
rewards. Every step logs, beside TRL's ``reward`` and ``rewards/<name>/mean``, the task metrics
the rewards report (``task/pass_rate``, ``task/syntax_valid_rate``, ``task/hallucination_rate``...)
and ``task/reward_seconds``; each checkpoint's ``luacoder.json`` carries their mean since the last
save, and ``training_curve.png`` draws them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from luacoder_train.trainers.base import BaseTrainer, Context

#: the package that brings each reward luacoder knows of (for "not installed" errors)
REWARD_PACKAGES = {"lua_tests": "luacoder-eval", "lua_syntax": "luacoder-train",
                   "api_grounded": "luacoder-train"}
#: columns the trainer itself reads; any other column of the records reaches the rewards
PROMPT_COLUMNS = ("prompt", "messages")
#: trl passes these to every reward; a record column of one of these names would be shadowed
RESERVED_COLUMNS = ("completions", "completion_ids", "trainer_state", "log_metric", "log_extra")


@dataclass
class RewardSpec:
    name: str
    weight: float
    options: dict[str, Any]
    plugin: str = ""
    fn: Any = None


def parse_rewards(value: Any, source: str) -> list[RewardSpec]:
    """``rewards:`` as a list of names or a mapping name -> weight | {weight, options}."""
    from luacoder_core.errors import ConfigError

    if value is None or value == [] or value == {}:
        raise ConfigError("grpo needs 'rewards': a list of reward names (lua_tests, lua_syntax, "
                          "api_grounded, or a plugin's) or a mapping name -> {weight, options}",
                          file=source, key="rewards")
    specs: list[RewardSpec] = []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        for i, name in enumerate(value):
            if not isinstance(name, str) or not name:
                raise ConfigError(f"a reward name must be a string, got {name!r}", file=source,
                                  key=f"rewards[{i}]")
            specs.append(RewardSpec(name, 1.0, {}))
    elif isinstance(value, dict):
        for name, spec in value.items():
            key = f"rewards.{name}"
            if spec is None:
                spec = {}
            if isinstance(spec, (int, float)) and not isinstance(spec, bool):
                spec = {"weight": spec}
            if not isinstance(spec, dict):
                raise ConfigError(f"must be a weight or a mapping with 'weight' and 'options', got "
                                  f"{spec!r}", file=source, key=key)
            unknown = sorted(set(spec) - {"weight", "options"})
            if unknown:
                raise ConfigError(f"unknown key '{unknown[0]}' (a reward takes 'weight' and "
                                  f"'options')", file=source, key=f"{key}.{unknown[0]}")
            weight = spec.get("weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise ConfigError(f"weight must be a number, got {weight!r}", file=source,
                                  key=f"{key}.weight")
            options = spec.get("options") or {}
            if not isinstance(options, dict):
                raise ConfigError(f"options must be a mapping, got {options!r}", file=source,
                                  key=f"{key}.options")
            specs.append(RewardSpec(str(name), float(weight), dict(options)))
    else:
        raise ConfigError(f"rewards must be a list of names or a mapping, got {value!r}",
                          file=source, key="rewards")
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"reward '{dupes[0]}' is named twice", file=source, key="rewards")
    return specs


def reward_registry():
    """The rewards of the running CLI's plugin manager (so a test's throwaway plugin counts), or
    of a freshly loaded one from the Python API."""
    import click

    ctx = click.get_current_context(silent=True)
    pm = getattr(ctx.find_root().command, "pm", None) if ctx is not None else None
    if pm is None:
        from luacoder_core.plugins import make_plugin_manager

        pm = make_plugin_manager()
    return pm.registries.rewards


def bind_rewards(specs: list[RewardSpec], registry, context: dict[str, Any], source: str) -> None:
    """Find each reward among the installed plugins and bind its options (config errors, exit 2)."""
    from luacoder_core.config import closest
    from luacoder_core.errors import ConfigError

    for spec in specs:
        key = f"rewards.{spec.name}"
        if spec.name not in registry:
            package = REWARD_PACKAGES.get(spec.name)
            if package:
                hint = f"{spec.name}: pip install {package}"
            else:
                guess = closest(spec.name, registry.names())
                hint = (f"no reward '{spec.name}'" + (f"; did you mean '{guess}'?" if guess else "")
                        + "; install a plugin that provides it")
            installed = ", ".join(registry.names()) or "none"
            raise ConfigError(f"{hint} (installed rewards: {installed})", file=source, key=key)
        entry = registry.entry(spec.name)
        component = entry.component
        spec.plugin = entry.plugin
        for needed in getattr(component, "requires", ()) or ():
            if not context.get(needed):
                raise ConfigError(f"reward '{spec.name}' needs '{needed}' in the recipe",
                                  file=source, key=needed)
        try:
            if hasattr(component, "bind"):
                spec.fn = component.bind(dict(spec.options), dict(context))
            elif spec.options:
                import functools

                spec.fn = functools.partial(component, **spec.options)
            else:
                spec.fn = component
        except ValueError as exc:
            raise ConfigError(f"reward '{spec.name}': {exc}", file=source,
                              key=f"{key}.options") from exc


class RewardCall:
    """What trl calls for one reward: the plugin's callable, its task metrics logged under
    ``task/`` and its wall time under ``task/reward_seconds/<name>``."""

    def __init__(self, spec: RewardSpec, timings: dict[str, float]) -> None:
        self.spec = spec
        self.__name__ = spec.name
        self.timings = timings

    def __call__(self, prompts, completions, **columns):
        log_metric = columns.get("log_metric")
        if callable(log_metric):
            columns["log_metric"] = lambda name, value: log_metric(
                name if "/" in name else f"task/{name}", value)
        start = time.perf_counter()
        scores = self.spec.fn(prompts, completions, **columns)
        seconds = time.perf_counter() - start
        self.timings[self.spec.name] = self.timings.get(self.spec.name, 0.0) + seconds
        if callable(log_metric):
            log_metric(f"task/reward_seconds/{self.spec.name}", seconds)
        return scores


class TaskMetricsWatch:
    """Collects the task metrics of each log, and puts their mean since the last save into
    ``luacoder.json`` (through the trainer's ``luacoder_meta``) before each checkpoint."""

    KEYS = ("reward", "reward_std", "completions/mean_length", "completions/clipped_ratio", "kl")

    def __init__(self) -> None:
        self.window: dict[str, list[float]] = defaultdict(list)
        self.trainer = None

    @classmethod
    def wanted(cls, key: str) -> bool:
        return key in cls.KEYS or key.startswith(("task/", "rewards/"))

    def callback(self):
        from transformers import TrainerCallback

        watch = self

        class _Callback(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                for key, value in (logs or {}).items():
                    if watch.wanted(key) and isinstance(value, (int, float)):
                        watch.window[key].append(float(value))
                watch.publish(state.global_step)

            def on_save(self, args, state, control, **kwargs):
                watch.window.clear()

        return _Callback()

    def publish(self, step: int) -> None:
        if self.trainer is None or not self.window:
            return
        means = {k: round(sum(v) / len(v), 6) for k, v in sorted(self.window.items()) if v}
        self.trainer.luacoder_meta["task_metrics"] = {"logs_averaged": len(self.window.get("reward", [])),
                                                      "step": step, **means}


@dataclass
class GRPOStats:
    samples: int
    prompt_tokens: int
    with_tests: int
    chat: bool
    columns: list[str]

    def line(self) -> str:
        kind = "chat prompts" if self.chat else "text prompts"
        extra = f"; columns passed to the rewards: {', '.join(self.columns)}" if self.columns else ""
        return (f"{self.samples} {kind}, {self.prompt_tokens:,} prompt tokens, "
                f"{self.with_tests} with tests{extra}")


def _prompt_of(record: dict) -> Any:
    prompt = record.get("prompt")
    if prompt is None and isinstance(record.get("messages"), list):
        messages = list(record["messages"])
        while messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "assistant":
            messages.pop()
        return messages
    return prompt


class _GenerationBatches:
    """GRPO's steps take generation buffers (lists), not token batches: skip the shared token
    counting of ``LuacoderMixin`` (trl logs ``num_tokens`` itself)."""

    def training_step(self, model, inputs, num_items_in_batch=None):
        from trl import GRPOTrainer as TRLGRPOTrainer

        return TRLGRPOTrainer.training_step(self, model, inputs, num_items_in_batch)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        from trl import GRPOTrainer as TRLGRPOTrainer

        return TRLGRPOTrainer.prediction_step(self, model, inputs, prediction_loss_only,
                                              ignore_keys=ignore_keys)


class GRPOTrainer(BaseTrainer):
    """RL with verifiable rewards (TRL GRPO): sample completions, score them with reward plugins."""

    name = "grpo"
    summary = ("RL with verifiable rewards (TRL GRPO): lua_tests in the sandbox, lua_syntax, "
               "api_grounded, or a plugin's reward")
    columns = ("prompt",)
    uses_chat_template = False  # applied in prepare() when the prompts are chats
    method_keys = {
        "rewards": list | dict | str,
        "api_path": str | None,
        "report_type": Literal["auto", "code", "markdown"],
        "prompt_format": Literal["auto", "chat", "text"],
    }
    method_defaults = {"rewards": None, "api_path": None, "report_type": "auto",
                       "prompt_format": "auto"}

    def config_class(self) -> type:
        from trl import GRPOConfig

        return GRPOConfig

    def run(self, config: dict, *, source: str | None = None, dry_run: bool = False,
            **options: Any) -> Any:
        from luacoder_core.errors import ConfigError

        source = source or "<config>"
        # the reward names and shapes are checked before anything heavy loads
        self._specs = parse_rewards(config.get("rewards"), source)
        if "reward_weights" in config and any(s.weight != 1.0 for s in self._specs):
            raise ConfigError("give reward weights either in 'rewards' or in 'reward_weights', "
                              "not both", file=source, key="reward_weights")
        weights = config.get("reward_weights")
        if isinstance(weights, list) and len(weights) != len(self._specs):
            raise ConfigError(f"reward_weights has {len(weights)} weights for {len(self._specs)} "
                              "rewards", file=source, key="reward_weights")
        registry = options.get("rewards_registry") or reward_registry()
        missing = [s for s in self._specs if s.name not in registry]
        if missing:
            bind_rewards(missing[:1], registry, {}, source)  # raises the error naming the package
        self._registry = registry
        return super().run(config, source=source, dry_run=dry_run, **options)

    # ---------------------------------------------------------------------------------------------

    def record_columns(self, ctx: Context) -> list[str]:
        """The prompt (``prompt`` or ``messages``) and every other field all sources share."""
        from luacoder_train.data.loading import load_source, parse_sources

        common: list[str] | None = None
        for src in parse_sources(ctx.resolved.raw["dataset"], key="dataset", recipe=ctx.resolved.source):
            names = load_source(src, ctx.resolved.source, "dataset").column_names
            common = list(names) if common is None else [c for c in common if c in names]
        common = common or []
        if "prompt" not in common and "messages" not in common:
            return ["prompt"]  # load_mixture names the file that lacks it
        dropped = [c for c in common if c in RESERVED_COLUMNS]
        if dropped:
            ctx.notes.append(f"column(s) {', '.join(dropped)} not passed to the rewards (trl uses "
                             "these names)")
        return [c for c in common if c not in RESERVED_COLUMNS]

    def validate_record(self, record: dict) -> None:
        prompt = _prompt_of(record)
        if isinstance(prompt, str):
            if not prompt.strip():
                raise ValueError("empty prompt")
        elif isinstance(prompt, list):
            if not prompt or not all(isinstance(m, dict) and isinstance(m.get("content"), str)
                                     and m.get("role") in ("system", "user", "assistant")
                                     for m in prompt):
                raise ValueError("a chat prompt must be a non-empty list of {role, content} messages")
            if prompt[-1].get("role") != "user":
                raise ValueError("a chat prompt must end with a user message")
        else:
            raise ValueError("needs 'prompt' (a string or a message list) or 'messages'")
        tests = record.get("tests")
        if tests is not None and not isinstance(tests, str):
            raise ValueError("'tests' must be a string (MultiPL-E test code)")

    def prepare(self, ctx: Context) -> None:
        from luacoder_core.errors import ConfigError

        from luacoder_train.pipeline import apply_chat_template

        records = ctx.train_records
        fmt = ctx.options["prompt_format"]
        first = _prompt_of(records[0])
        chat = fmt == "chat" or (fmt == "auto" and isinstance(first, list))

        def convert(example):
            prompt = _prompt_of(example)
            if chat and isinstance(prompt, str):
                prompt = [{"role": "user", "content": prompt}]
            elif not chat and isinstance(prompt, list):
                raise ValueError("chat prompt in a text-prompt run")
            out = {"prompt": prompt}
            return out

        drop = ["messages"] if "messages" in records.column_names else []
        try:
            ctx.train_dataset = records.map(convert, remove_columns=drop)
            if ctx.eval_records is not None:
                ctx.eval_dataset = ctx.eval_records.map(
                    convert, remove_columns=["messages"] if "messages" in ctx.eval_records.column_names else [])
        except ValueError as exc:
            raise ConfigError(f"mixed prompts: {exc}; set prompt_format: chat to wrap text prompts "
                              "as user messages", file=ctx.resolved.source, key="prompt_format") from exc
        ctx.chat = chat  # type: ignore[attr-defined]
        if chat:
            apply_chat_template(ctx)
            if ctx.template and not ctx.tokenizer.chat_template:
                ctx.tokenizer.chat_template = ctx.template

        report_type = ctx.options["report_type"]
        if report_type == "auto":
            report_type = "markdown" if chat else "code"
        ctx.report_type = report_type  # type: ignore[attr-defined]
        context = {"report_type": report_type, "api_path": ctx.options.get("api_path"),
                   "source": ctx.resolved.source}
        bind_rewards(self._specs, self._registry, context, ctx.resolved.source)
        ctx.rewards = self._specs  # type: ignore[attr-defined]

        tokens = 0
        for example in ctx.train_dataset:
            tokens += len(ctx.tokenizer(self._prompt_text(ctx, example["prompt"]),
                                        add_special_tokens=False)["input_ids"])
        with_tests = sum(1 for t in (ctx.train_dataset["tests"] if "tests" in ctx.train_dataset.column_names
                                     else []) if isinstance(t, str) and t.strip())
        if any(s.name == "lua_tests" for s in self._specs) and not with_tests:
            ctx.notes.append("lua_tests is a reward but no prompt has 'tests': it scores None "
                             "(not applicable) everywhere")
        ctx.stats = GRPOStats(len(ctx.train_dataset), tokens, with_tests, chat,
                              [c for c in ctx.train_dataset.column_names if c != "prompt"])

    def _prompt_text(self, ctx: Context, prompt: Any) -> str:
        if isinstance(prompt, str):
            return prompt
        return ctx.tokenizer.apply_chat_template(prompt, chat_template=ctx.template, tokenize=False,
                                                 add_generation_prompt=True)

    def describe(self, ctx: Context) -> str:
        def esc(text: str) -> str:
            return text.encode("unicode_escape").decode("ascii", "backslashreplace")

        example = ctx.train_dataset[0]
        prompt = self._prompt_text(ctx, example["prompt"])
        n = len(ctx.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        args = ctx.args
        lines = [f"  prompt {n:>4} | [{esc(prompt)}]",
                 f"  then {args.num_generations} completions of at most {args.max_completion_length} "
                 f"tokens each (temperature {args.temperature}), scored as report type "
                 f"'{ctx.report_type}' by:"]
        for spec in ctx.rewards:
            options = f" {spec.options}" if spec.options else ""
            lines.append(f"    {spec.name:<14} weight {spec.weight:g}{options}  [{spec.plugin}]")
        for column in ctx.stats.columns:
            value = example[column]
            text = esc(value if isinstance(value, str) else repr(value))
            lines.append(f"  {column}: {text[:120]}{'...' if len(text) > 120 else ''}")
        return "\n".join(lines)

    def build(self, ctx: Context):
        from trl import GRPOTrainer as TRLGRPOTrainer

        from luacoder_train.trainers.runtime import with_luacoder

        timings: dict[str, float] = {}
        calls = [RewardCall(spec, timings) for spec in ctx.rewards]
        if any(s.weight != 1.0 for s in ctx.rewards):
            ctx.args.reward_weights = [s.weight for s in ctx.rewards]
        kwargs = {}
        if ctx.peft_config is not None:
            kwargs["peft_config"] = ctx.peft_config
        cls = type("LuacoderGRPOTrainer", (_GenerationBatches, with_luacoder(TRLGRPOTrainer)), {})
        trainer = cls(model=ctx.model, reward_funcs=calls, args=ctx.args,
                      train_dataset=ctx.train_dataset, eval_dataset=ctx.eval_dataset,
                      processing_class=ctx.tokenizer, **kwargs)
        watch = TaskMetricsWatch()
        watch.trainer = trainer
        trainer.add_callback(watch.callback())
        trainer.luacoder_reward_timings = timings
        original = getattr(trainer, "_calculate_rewards", None)
        if original is None:  # another trl: no task/reward_seconds, the rest works
            return trainer

        def timed_rewards(*a, **kw):
            start = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                trainer._metrics["train" if trainer.model.training else "eval"][
                    "task/reward_seconds"].append(time.perf_counter() - start)

        trainer._calculate_rewards = timed_rewards
        return trainer
