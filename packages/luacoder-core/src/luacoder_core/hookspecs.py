"""Every hook a luacoder plugin can implement.

A plugin is a module or object with functions decorated ``@hookimpl`` (``from luacoder_core
import hookimpl``), found through the entry-point group ``luacoder``. Implementations may accept
fewer arguments than the specification names; specifications only ever grow.
"""

from __future__ import annotations

from luacoder_core import hookspec

# -------------------------------------------------------------------------------------------------
# Plugin set-up
# -------------------------------------------------------------------------------------------------


@hookspec(historic=True)
def addhooks(pluginmanager):
    """Add hook specifications that belong to one package, as pytest-xdist does.

    Called once for each plugin as soon as it is registered.

    :param pluginmanager: the :class:`pluggy.PluginManager`; call
        ``pluginmanager.add_hookspecs(module)``.
    """


# -------------------------------------------------------------------------------------------------
# Command line
# -------------------------------------------------------------------------------------------------


@hookspec
def register_commands(cli):
    """Add click commands or groups to the ``luacoder`` group.

    Called once while the CLI is built, after the built-in ``data``, ``train`` and ``eval`` groups
    exist, so a plugin may also add to them (``cli.commands["train"].add_command(...)``).

    :param cli: the top-level :class:`click.Group`.
    """


# -------------------------------------------------------------------------------------------------
# Components
# -------------------------------------------------------------------------------------------------


@hookspec
def register_converters(register):
    """Register data converters, run as ``luacoder data convert NAME INPUT... -o OUTPUT``.

    Called once when the registries are first needed.

    :param register: ``register(name, converter)``; a converter is a
        :class:`luacoder_core.components.Converter`. Two plugins registering one name is an error.
    """


@hookspec
def register_trainers(register):
    """Register training methods, run as ``luacoder train NAME CONFIG.yaml``.

    :param register: ``register(name, trainer)``; a trainer is a
        :class:`luacoder_core.components.Trainer`.
    """


@hookspec
def register_report_types(register):
    """Register report types: how code is read out of generated text (``code``, ``markdown``).

    :param register: ``register(name, report_type)``; a report type is a
        :class:`luacoder_core.components.ReportType`.
    """


@hookspec
def register_metrics(register):
    """Register metrics computed on generations (``api_match``, ``syntax``, ``pass_at_k``).

    :param register: ``register(name, metric)``; a metric is a
        :class:`luacoder_core.components.Metric`.
    """


@hookspec
def register_rewards(register):
    """Register rewards for RL trainers (``grpo``): completions in, one float each out.

    Called once when the registries are first needed. A recipe names rewards in ``rewards:``.

    :param register: ``register(name, reward)``; a reward is a
        :class:`luacoder_core.components.Reward` (or any callable in trl's reward-function form
        ``reward(prompts, completions, **columns) -> list[float | None]``).
    """


# -------------------------------------------------------------------------------------------------
# Pipeline stages (``luacoder run``)
# -------------------------------------------------------------------------------------------------


@hookspec
def before_stage(stage, run):
    """Called before a stage of ``luacoder run`` starts (not for stages skipped as cached).

    :param stage: the :class:`luacoder_core.pipeline.Stage` about to run.
    :param run: the :class:`luacoder_core.pipeline.RunContext` (run folder, pipeline, options).
    """


@hookspec
def after_stage(stage, run, outputs):
    """Called after a stage of ``luacoder run`` finished successfully.

    :param stage: the :class:`luacoder_core.pipeline.Stage` that ran.
    :param run: the :class:`luacoder_core.pipeline.RunContext`.
    :param outputs: dict of the stage's outputs (``{"output": path, ...}``).
    """


@hookspec
def on_stage_error(stage, run, error):
    """Called when a stage of ``luacoder run`` fails, before the run stops.

    :param stage: the :class:`luacoder_core.pipeline.Stage` that failed.
    :param run: the :class:`luacoder_core.pipeline.RunContext`.
    :param error: the exception raised.
    """
