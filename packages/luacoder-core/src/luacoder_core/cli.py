"""The ``luacoder`` command line, built by :func:`build_cli` from a plugin manager.

Nothing heavy is imported here: ``luacoder --help`` must not import torch, transformers, datasets
or trl. Components are looked up in the registries only when a command needs them.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from luacoder_core import __version__
from luacoder_core.errors import InputError, LuacoderError, PluginError
from luacoder_core.plugins import COMPONENT_KINDS, PluginManager, make_plugin_manager

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

INSTALL_HINT = {
    "converter": "luacoder-data",
    "trainer": "luacoder-train",
    "report type": "luacoder-eval",
    "metric": "luacoder-eval",
    "reward": "luacoder-train",
}


def _registry_listing(pm: PluginManager, attrs: list[str], as_json: bool) -> None:
    rows = []
    for attr in attrs:
        kind = COMPONENT_KINDS[attr][1]
        for entry in pm.registries.of(attr):
            summary = getattr(entry.component, "summary", "") or (entry.component.__doc__ or "")
            rows.append({"kind": kind, "name": entry.name, "plugin": entry.plugin,
                         "summary": summary.strip().splitlines()[0] if summary.strip() else ""})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        kinds = ", ".join(COMPONENT_KINDS[a][1] + "s" for a in attrs)
        hint = INSTALL_HINT[COMPONENT_KINDS[attrs[0]][1]]
        click.echo(f"no {kinds} installed (pip install {hint})")
        return
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        prefix = f"{row['kind']:<12} " if len(attrs) > 1 else ""
        click.echo(f"{prefix}{row['name']:<{width}}  {row['summary']}  [{row['plugin']}]")


def unknown_component(pm: PluginManager, attr: str, name: str) -> InputError:
    kind = COMPONENT_KINDS[attr][1]
    known = pm.registries.of(attr).names()
    from luacoder_core.config import closest

    guess = closest(name, known)
    hint = f"; did you mean '{guess}'?" if guess else ""
    available = f" (installed: {', '.join(known)})" if known else ""
    return InputError(
        f"no {kind} '{name}'{hint}{available}; pip install {INSTALL_HINT[kind]} or a plugin "
        f"that provides it"
    )


class ConverterGroup(click.Group):
    """``luacoder data convert NAME``: one subcommand per registered converter."""

    def __init__(self, *args: Any, pm: PluginManager, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pm = pm

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self.pm.registries.converters.names()

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.pm.registries.converters:
            return None
        return converter_command(name, self.pm.registries.converters.get(name))

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name is not None and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise unknown_component(self.pm, "converters", name)
        return super().resolve_command(ctx, args)


def converter_command(name: str, converter: Any) -> click.Command:
    def callback(inputs: tuple[str, ...], output: str, **options: Any) -> None:
        summary = converter.run(list(inputs), output, **options)
        if summary is not None and hasattr(summary, "line"):
            click.echo(f"{name}: {summary.line()} -> {output}")

    params: list[click.Parameter] = [
        click.Argument(["inputs"], nargs=-1, required=True, metavar="INPUT..."),
        click.Option(["-o", "--output"], required=True, help="Output file (JSON Lines)."),
        *converter.params(),
    ]
    doc = (getattr(converter, "summary", "") or converter.__doc__ or "").strip()
    return click.Command(name, params=params, callback=callback, help=doc,
                         short_help=doc.splitlines()[0] if doc else None,
                         context_settings=CONTEXT_SETTINGS)


class TrainGroup(click.Group):
    """``luacoder train``: fixed commands (``list``, plugin commands) plus one per trainer."""

    def __init__(self, *args: Any, pm: PluginManager, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pm = pm

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.pm.registries.trainers.names()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        if name in self.pm.registries.trainers:
            return trainer_command(name, self.pm.registries.trainers.get(name))
        return None

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name is not None and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise unknown_component(self.pm, "trainers", name)
        return super().resolve_command(ctx, args)


def trainer_command(name: str, trainer: Any) -> click.Command:
    def callback(config: str, overrides: tuple[str, ...], dry_run: bool, **options: Any) -> None:
        from luacoder_core.config import load_config

        loaded = load_config(config, overrides)
        trainer.run(loaded, source=config, dry_run=dry_run, **options)

    params: list[click.Parameter] = [
        click.Argument(["config"], type=click.Path(dir_okay=False), metavar="CONFIG.yaml"),
        click.Option(["--set", "overrides"], multiple=True, metavar="KEY=VALUE",
                     help="Override a config key (repeatable), e.g. --set learning_rate=1e-4."),
        click.Option(["--dry-run"], is_flag=True,
                     help="Print the resolved config and the first prepared example, then exit."),
        *trainer.params(),
    ]
    doc = (getattr(trainer, "summary", "") or trainer.__doc__ or "").strip()
    return click.Command(name, params=params, callback=callback, help=doc,
                         short_help=doc.splitlines()[0] if doc else None,
                         context_settings=CONTEXT_SETTINGS)


def build_cli(pm: PluginManager | None = None) -> click.Group:
    """The ``luacoder`` click group around ``pm`` (a fresh, fully loaded one by default)."""
    if pm is None:
        pm = make_plugin_manager()
    pm.validate()

    @click.group(context_settings=CONTEXT_SETTINGS)
    @click.version_option(__version__, "-V", "--version", prog_name="luacoder")
    def cli() -> None:
        """luacoder: fine-tune code models on a Lua API's docs and code, and prove it.

        Stages: data (docs, dialogues and Lua code -> datasets), train (pretrain, chat, dpo),
        eval (score every checkpoint), and run (the whole pipeline from one YAML file).
        """

    cli.pm = pm  # type: ignore[attr-defined]

    @cli.command("plugins")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
    def plugins_cmd(as_json: bool) -> None:
        """List installed plugins, their hooks and what they registered."""
        infos = pm.plugin_infos()
        if as_json:
            click.echo(json.dumps([i.as_dict() for i in infos], indent=2))
            return
        if not infos:
            click.echo("no plugins loaded")
        for info in infos:
            dist = f"{info.distribution} {info.version}" if info.distribution else "(registered)"
            if info.status != "loaded":
                click.echo(f"{info.name}  {dist}  FAILED: {info.error}")
                continue
            click.echo(f"{info.name}  {dist}")
            if info.hooks:
                click.echo(f"    hooks: {', '.join(info.hooks)}")
            for attr, names in info.registered.items():
                click.echo(f"    {attr.replace('_', ' ')}: {', '.join(names)}")

    @cli.group("data", context_settings=CONTEXT_SETTINGS)
    def data() -> None:
        """Turn API docs, dialogues and Lua code into datasets."""

    @data.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def data_list(as_json: bool) -> None:
        """List the installed converters."""
        _registry_listing(pm, ["converters"], as_json)

    data.add_command(ConverterGroup("convert", pm=pm, context_settings=CONTEXT_SETTINGS,
                                    help="Run a converter: convert NAME INPUT... -o OUTPUT."))

    train = TrainGroup("train", pm=pm, context_settings=CONTEXT_SETTINGS,
                       help="Train a model: train TRAINER CONFIG.yaml [--set key=value].")
    cli.add_command(train)

    @train.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def train_list(as_json: bool) -> None:
        """List the installed trainers and the rewards RL trainers can use."""
        _registry_listing(pm, ["trainers", "rewards"] if len(pm.registries.rewards) else ["trainers"],
                          as_json)

    @cli.group("eval", context_settings=CONTEXT_SETTINGS)
    def eval_group() -> None:
        """Generate from checkpoints and score what they wrote."""

    @eval_group.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def eval_list(as_json: bool) -> None:
        """List the installed report types and metrics."""
        _registry_listing(pm, ["report_types", "metrics"], as_json)

    @cli.command("run")
    @click.argument("pipeline", type=click.Path(dir_okay=False), metavar="PIPELINE.yaml")
    @click.option("--dry-run", is_flag=True, help="Print the plan (order, cache, environments) and exit.")
    @click.option("--force", multiple=True, metavar="STAGE", help="Rerun this stage even if cached.")
    @click.option("--force-all", is_flag=True, help="Rerun every stage.")
    @click.option("--runs-dir", default=None, help="Where run folders go (default: runs/ beside the pipeline).")
    def run_cmd(pipeline: str, dry_run: bool, force: tuple[str, ...], force_all: bool,
                runs_dir: str | None) -> None:
        """Run a pipeline of data, train and eval stages (cached, resumable)."""
        from luacoder_core.pipeline import run_pipeline

        run_pipeline(pipeline, cli=cli, pm=pm, dry_run=dry_run, force=force, force_all=force_all,
                     runs_dir=runs_dir)

    for impl in reversed(pm.hook.register_commands.get_hookimpls()):
        pm.call_impl(impl, "register_commands", {"cli": cli})
    return cli


def main(argv: list[str] | None = None) -> None:
    """Console entry point: plugin errors become a message and exit code 2."""
    try:
        cli = build_cli()
        cli.main(args=argv, prog_name="luacoder", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (LuacoderError, click.ClickException) as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PluginError as exc:  # pragma: no cover - covered by LuacoderError
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
