"""``luacoder run PIPELINE.yaml``: data -> train -> eval as one reproducible, cached pipeline.

A pipeline file names stages; each runs one registered component through the ``luacoder``
command line, in-process or inside another environment (``env:``)::

    name: quickstart
    stages:
      docs:
        convert: markdown-api            # luacoder data convert markdown-api INPUT... -o OUTPUT
        inputs: [docs/tween.md]
      code:
        convert: lua-code
        inputs: [lua/, "${stages.docs.output}"]
        options: {api: "${stages.docs.output}", fim_rate: 0.5}
      model:
        command: [train, init-model, "${output}", --corpus, lua/]
      pretrain:
        train: pretrain                  # luacoder train pretrain CONFIG.yaml
        env: .venvs/train                # optional: run inside that virtualenv
        launch: {nproc_per_node: 4}      # optional: luacoder train launch (torchrun) on 4 GPUs
        config: {model_name_or_path: "${stages.model.output}", dataset: "${stages.code.output}"}
      sweep:
        eval: run                        # luacoder eval run CONFIG.yaml
        config: {base_folder: "${stages.pretrain.output}", ...}

The order comes from the ``${stages.NAME.output}`` references (a DAG). Every stage's work lives in
a content-addressed folder ``<runs_dir>/<name>/stages/<stage>-<key>`` where the key hashes the
stage's definition, the content of the files it names and the keys of the stages it depends on:
an unchanged stage is a cache hit on the next run, an edited one (and everything downstream) runs
again, and a stage killed half way restarts in the same folder (trainers resume from their last
checkpoint). Each run also gets ``<runs_dir>/<name>/<timestamp>/`` with the resolved pipeline,
one log per stage, links to the stage outputs and ``manifest.json``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import graphlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from luacoder_core.config import closest, load_yaml, unknown_key_message
from luacoder_core.errors import ConfigError, InputError, RunFailed
from luacoder_core.records import write_text_atomic

KINDS = ("convert", "train", "eval", "command")
STAGE_KEYS = {"convert", "train", "eval", "command", "inputs", "output", "options", "config", "set",
              "env", "needs", "description", "launch"}
PIPELINE_KEYS = {"name", "description", "runs_dir", "stages"}
REF = re.compile(r"\$\{([^}]+)\}")
COMPLETE = ".luacoder-complete.json"


@dataclass
class Stage:
    """One stage of a pipeline, resolved."""

    name: str
    kind: str  # convert | train | eval | command
    target: Any  # converter/trainer name, eval command, or the argument list of `command`
    spec: dict[str, Any]
    deps: list[str] = field(default_factory=list)
    env: Any = None
    key: str = ""
    dir: Path = Path()
    output: Path = Path()
    cached: bool = False
    input_hashes: dict[str, str] = field(default_factory=dict)

    @property
    def outputs(self) -> dict[str, str]:
        return {"output": str(self.output), "dir": str(self.dir)}


@dataclass
class RunContext:
    """What hooks see of a run."""

    name: str
    pipeline_path: Path
    base_dir: Path
    runs_dir: Path
    run_dir: Path
    stages: dict[str, Stage]
    order: list[str]
    options: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------
# Loading and planning
# ------------------------------------------------------------------------------------------------


def _refs(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, str):
        found += REF.findall(value)
    elif isinstance(value, dict):
        for v in value.values():
            found += _refs(v)
    elif isinstance(value, list):
        for v in value:
            found += _refs(v)
    return found


def _stage_kind(name: str, spec: dict, source: str) -> tuple[str, Any]:
    present = [k for k in KINDS if k in spec]
    if len(present) != 1:
        raise ConfigError(
            f"stage '{name}' must name exactly one of {', '.join(KINDS)} (found: "
            f"{', '.join(present) or 'none'})", file=source, key=f"stages.{name}")
    kind = present[0]
    target = spec[kind]
    if kind == "command":
        if isinstance(target, str):
            target = target.split()
        if not isinstance(target, list) or not target:
            raise ConfigError("'command' must be a list of arguments", file=source,
                              key=f"stages.{name}.command")
        target = [str(t) for t in target]
    elif not isinstance(target, str):
        raise ConfigError(f"'{kind}' must be a name", file=source, key=f"stages.{name}.{kind}")
    return kind, target


def load_pipeline(path: str | Path) -> tuple[dict[str, Any], dict[str, Stage], list[str]]:
    """Read and validate a pipeline file; return it, its stages and their run order."""
    path = Path(path)
    source = str(path)
    data = load_yaml(path)
    for key in data:
        if key not in PIPELINE_KEYS:
            raise ConfigError(unknown_key_message(key, PIPELINE_KEYS), file=source)
    stages_spec = data.get("stages")
    if not isinstance(stages_spec, dict) or not stages_spec:
        raise ConfigError("'stages' must be a mapping of stage names to stages", file=source,
                          key="stages")
    stages: dict[str, Stage] = {}
    for name, spec in stages_spec.items():
        if not isinstance(spec, dict):
            raise ConfigError("a stage must be a mapping", file=source, key=f"stages.{name}")
        for key in spec:
            if key not in STAGE_KEYS:
                raise ConfigError(unknown_key_message(f"stages.{name}.{key}", STAGE_KEYS), file=source)
        kind, target = _stage_kind(name, spec, source)
        stages[name] = Stage(name, kind, target, spec, env=spec.get("env"))
    for stage in stages.values():
        deps: list[str] = list(stage.spec.get("needs") or [])
        for ref in _refs({k: v for k, v in stage.spec.items() if k != "needs"}):
            parts = ref.split(".")
            if parts[0] in ("output", "dir", "run_dir", "pipeline_dir") and len(parts) == 1:
                continue
            if parts[0].startswith("env:"):
                continue
            if parts[0] != "stages" or len(parts) != 3 or parts[2] not in ("output", "dir"):
                raise ConfigError(
                    f"unknown reference '${{{ref}}}' (use ${{stages.NAME.output}}, "
                    f"${{stages.NAME.dir}} or ${{output}})", file=source, key=f"stages.{stage.name}")
            deps.append(parts[1])
        for dep in deps:
            if dep not in stages:
                guess = closest(dep, stages)
                hint = f"; did you mean '{guess}'?" if guess else ""
                raise ConfigError(f"stage '{stage.name}' refers to unknown stage '{dep}'{hint}",
                                  file=source, key=f"stages.{stage.name}")
            if dep == stage.name:
                raise ConfigError(f"stage '{stage.name}' refers to itself", file=source,
                                  key=f"stages.{stage.name}")
        stage.deps = sorted(set(deps))
    sorter = graphlib.TopologicalSorter({n: s.deps for n, s in stages.items()})
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise ConfigError(f"the stages form a cycle: {cycle}", file=source, key="stages") from exc
    # a stable order: file order among stages that are ready together
    position = {n: i for i, n in enumerate(stages)}
    order = _stable_topo(stages, position)
    return data, stages, order


def _stable_topo(stages: dict[str, Stage], position: dict[str, int]) -> list[str]:
    done: list[str] = []
    remaining = dict(stages)
    while remaining:
        ready = [n for n, s in remaining.items() if all(d in done for d in s.deps)]
        ready.sort(key=position.__getitem__)
        done.append(ready[0])
        del remaining[ready[0]]
    return done


def _hash_path(path: Path, digest: Any) -> None:
    if path.is_file():
        digest.update(b"F" + path.name.encode())
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return
    for child in sorted(path.rglob("*")):
        if child.is_file() and not any(part.startswith(".") for part in child.relative_to(path).parts):
            digest.update(str(child.relative_to(path)).encode())
            with child.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)


def _file_values(value: Any, base: Path) -> list[str]:
    """Strings in a stage definition that name existing files or folders (its inputs)."""
    found: list[str] = []
    if isinstance(value, str):
        if value and not REF.search(value) and "\n" not in value and len(value) < 4096:
            try:
                if (base / value).exists():
                    found.append(value)
            except OSError:
                pass
    elif isinstance(value, dict):
        for v in value.values():
            found += _file_values(v, base)
    elif isinstance(value, list):
        for v in value:
            found += _file_values(v, base)
    return found


def plan(stages: dict[str, Stage], order: list[str], *, base_dir: Path, runs_dir: Path,
         name: str) -> None:
    """Give each stage its content key, folder and output path, and mark cache hits."""
    for stage_name in order:
        stage = stages[stage_name]
        digest = hashlib.sha256()
        digest.update(json.dumps(stage.spec, sort_keys=True, default=str).encode())
        for dep in stage.deps:
            digest.update(f"{dep}={stages[dep].key}".encode())
        stage.input_hashes = {}
        for value in sorted(set(_file_values(stage.spec, base_dir))):
            file_digest = hashlib.sha256()
            _hash_path(base_dir / value, file_digest)
            stage.input_hashes[value] = file_digest.hexdigest()
            digest.update(f"{value}={stage.input_hashes[value]}".encode())
        stage.key = digest.hexdigest()[:16]
        stage.dir = (runs_dir / name / "stages" / f"{stage.name}-{stage.key}").resolve()
        default = f"{stage.name}.jsonl" if stage.kind == "convert" else "output"
        stage.output = stage.dir / str(stage.spec.get("output", default))
        stage.cached = (stage.dir / COMPLETE).is_file()


# ------------------------------------------------------------------------------------------------
# Turning a stage into a luacoder command line
# ------------------------------------------------------------------------------------------------


def _substitute(value: Any, stage: Stage, stages: dict[str, Stage], run: RunContext) -> Any:
    def one(match: re.Match) -> str:
        ref = match.group(1)
        if ref == "output":
            return str(stage.output)
        if ref == "dir":
            return str(stage.dir)
        if ref == "run_dir":
            return str(run.run_dir)
        if ref == "pipeline_dir":
            return str(run.base_dir)
        if ref.startswith("env:"):
            return os.environ.get(ref[4:], "")
        _, dep, attr = ref.split(".")
        return str(stages[dep].output if attr == "output" else stages[dep].dir)

    if isinstance(value, str):
        return REF.sub(one, value)
    if isinstance(value, dict):
        return {k: _substitute(v, stage, stages, run) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, stage, stages, run) for v in value]
    return value


def _option_args(options: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, list):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


def _stage_config(stage: Stage, spec: dict, base_dir: Path) -> dict[str, Any]:
    config = spec.get("config") or {}
    if isinstance(config, str):
        config = load_yaml(base_dir / config)
    elif not isinstance(config, dict):
        raise ConfigError("'config' must be a mapping or a path to a YAML file",
                          key=f"stages.{stage.name}.config")
    config = dict(config)
    for key, value in (spec.get("set") or {}).items():
        config[key] = value
    config.setdefault("output_dir", str(stage.output))
    return config


def command_line(stage: Stage, stages: dict[str, Stage], run: RunContext) -> list[str]:
    """The ``luacoder`` arguments that run this stage (configs are written into its folder)."""
    spec = _substitute(stage.spec, stage, stages, run)
    if stage.kind == "convert":
        inputs = spec.get("inputs")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not inputs:
            raise ConfigError("a convert stage needs 'inputs'", file=str(run.pipeline_path),
                              key=f"stages.{stage.name}.inputs")
        return ["data", "convert", stage.target, *map(str, inputs), "-o", str(stage.output),
                *_option_args(spec.get("options") or {})]
    if stage.kind in ("train", "eval"):
        config = _stage_config(stage, spec, run.base_dir)
        config_path = stage.dir / "config.yaml"
        write_text_atomic(config_path, yaml.safe_dump(config, sort_keys=False))
        group = "train" if stage.kind == "train" else "eval"
        launch = spec.get("launch")
        if launch is not None:
            if stage.kind != "train" or not isinstance(launch, dict):
                raise ConfigError("'launch' takes a mapping of `luacoder train launch` options "
                                  "(nproc_per_node, nnodes, ...) on a train stage",
                                  file=str(run.pipeline_path), key=f"stages.{stage.name}.launch")
            return ["train", "launch", *_option_args(launch), stage.target, str(config_path),
                    *_option_args(spec.get("options") or {})]
        return [group, stage.target, str(config_path), *_option_args(spec.get("options") or {})]
    return [str(a) for a in spec["command"]] if isinstance(spec["command"], list) else spec["command"].split()


def _env_prefix(stage: Stage, base_dir: Path) -> list[str] | None:
    env = stage.env
    if env is None:
        return None
    if isinstance(env, str):
        venv = (base_dir / env).resolve()
        exe = venv / ("Scripts" if os.name == "nt" else "bin") / "luacoder"
        if not exe.exists():
            raise InputError(f"stage '{stage.name}': no luacoder in environment {venv} "
                             f"(create it and pip install the package it needs)",
                             key=f"stages.{stage.name}.env")
        return [str(exe)]
    if isinstance(env, dict) and isinstance(env.get("prefix"), list):
        return [str(p) for p in env["prefix"]] + ["luacoder"]
    raise InputError("'env' must be a virtualenv path or {prefix: [command, ...]}",
                     key=f"stages.{stage.name}.env")


# ------------------------------------------------------------------------------------------------
# Checking that every component exists before anything runs
# ------------------------------------------------------------------------------------------------

INSTALL = {"convert": ("converter", "luacoder-data"), "train": ("trainer", "luacoder-train"),
           "eval": ("eval command", "luacoder-eval")}


def _available(cli: click.Group, pm: Any, stage: Stage, base_dir: Path) -> dict[str, list[str]]:
    prefix = _env_prefix(stage, base_dir)
    if prefix is None:
        eval_group = cli.commands.get("eval")
        return {"convert": pm.registries.converters.names(),
                "train": pm.registries.trainers.names(),
                "eval": sorted(getattr(eval_group, "commands", {}))}
    out = subprocess.run(prefix + ["plugins", "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise InputError(f"stage '{stage.name}': `{' '.join(prefix)} plugins` failed: "
                         f"{out.stderr.strip()[-300:]}", key=f"stages.{stage.name}.env")
    found: dict[str, list[str]] = {"convert": [], "train": [], "eval": []}
    for info in json.loads(out.stdout):
        registered = info.get("registered", {})
        found["convert"] += registered.get("converters", [])
        found["train"] += registered.get("trainers", [])
        if info.get("name") == "eval" or "luacoder-eval" == info.get("distribution"):
            found["eval"] += ["run", "score", "exec", "generate", "chat"]
    return found


def check_components(cli: click.Group, pm: Any, stages: dict[str, Stage], base_dir: Path,
                     source: str) -> None:
    cache: dict[Any, dict[str, list[str]]] = {}
    for stage in stages.values():
        if stage.kind == "command":
            continue
        env_key = json.dumps(stage.env, sort_keys=True, default=str)
        if env_key not in cache:
            cache[env_key] = _available(cli, pm, stage, base_dir)
        known = cache[env_key][stage.kind]
        if stage.target not in known:
            what, package = INSTALL[stage.kind]
            where = f" in environment {stage.env}" if stage.env else ""
            guess = closest(stage.target, known)
            hint = f" (did you mean '{guess}'?)" if guess else ""
            raise InputError(f"stage '{stage.name}': no {what} '{stage.target}'{where}{hint}: "
                             f"pip install {package}", file=source, key=f"stages.{stage.name}.{stage.kind}")


# ------------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------------


class _Tee(io.TextIOBase):
    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
            stream.flush()
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def isatty(self) -> bool:
        return False


def _run_in_process(cli: click.Group, args: list[str], log: Any, cwd: Path) -> None:
    out = _Tee(sys.__stdout__ if sys.stdout is None else sys.stdout, log)
    err = _Tee(sys.__stderr__ if sys.stderr is None else sys.stderr, log)
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main(args=args, prog_name="luacoder", standalone_mode=False)
            except click.exceptions.Exit as exc:
                if exc.exit_code:
                    raise RunFailed(f"exited with code {exc.exit_code}") from exc
            except click.ClickException as exc:
                exc.show(file=err)
                raise
    finally:
        os.chdir(previous)


def _run_in_env(prefix: list[str], args: list[str], log: Any, cwd: Path) -> None:
    proc = subprocess.Popen(prefix + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        log.write(line)
        log.flush()
    code = proc.wait()
    if code != 0:
        raise RunFailed(f"`{' '.join(prefix + args)}` exited with code {code}")


def _write_manifest(run: RunContext, status: str, records: dict[str, dict]) -> None:
    manifest = {
        "name": run.name,
        "pipeline": str(run.pipeline_path),
        "run_dir": str(run.run_dir),
        "status": status,
        "updated": _dt.datetime.now().isoformat(timespec="seconds"),
        "order": run.order,
        "stages": records,
    }
    write_text_atomic(run.run_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_pipeline(path: str | Path, *, cli: click.Group, pm: Any, dry_run: bool = False,
                 force: tuple[str, ...] = (), force_all: bool = False,
                 runs_dir: str | None = None, echo=click.echo) -> RunContext:
    """Run (or, with ``dry_run``, plan) a pipeline; see the module docstring."""
    path = Path(path).resolve()
    source = str(path)
    data, stages, order = load_pipeline(path)
    base_dir = path.parent
    name = str(data.get("name") or path.stem)
    runs_root = Path(runs_dir or data.get("runs_dir") or "runs")
    if not runs_root.is_absolute():
        runs_root = base_dir / runs_root
    for forced in force:
        if forced not in stages:
            raise InputError(unknown_key_message(forced, stages).replace("key", "stage"), key="--force")
    check_components(cli, pm, stages, base_dir, source)
    plan(stages, order, base_dir=base_dir, runs_dir=runs_root, name=name)
    rerun = set(stages) if force_all else set(force)
    for stage_name in order:  # a forced stage invalidates nothing upstream, but runs itself
        if stage_name in rerun:
            stages[stage_name].cached = False

    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = runs_root / name / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = runs_root / name / f"{stamp}-{suffix}"
    run = RunContext(name, path, base_dir, runs_root, run_dir, stages, order,
                     {"force": list(force), "dry_run": dry_run})

    echo(f"pipeline {name}: {len(order)} stages ({source})")
    for i, stage_name in enumerate(order, 1):
        stage = stages[stage_name]
        target = " ".join(stage.target) if stage.kind == "command" else stage.target
        state = "cached" if stage.cached else "run"
        env = f"env {stage.env}" if stage.env else "in-process"
        deps = f" after {', '.join(stage.deps)}" if stage.deps else ""
        echo(f"  {i}. {stage_name:<12} {stage.kind} {target:<16} [{state}] ({env}){deps}")
    if dry_run:
        return run

    run_dir.mkdir(parents=True)
    (run_dir / "logs").mkdir()
    write_text_atomic(run_dir / "pipeline.yaml", yaml.safe_dump(data, sort_keys=False))
    records: dict[str, dict] = {
        n: {"kind": s.kind, "target": s.target, "key": s.key, "dir": str(s.dir),
            "output": str(s.output), "deps": s.deps, "inputs": s.input_hashes, "env": s.env,
            "status": "pending"} for n, s in stages.items()}
    _write_manifest(run, "running", records)
    run_started = time.perf_counter()

    def summary() -> None:
        from luacoder_core.run_summary import summary_lines

        for line in summary_lines(order, records, stages, run_dir,
                                  round(time.perf_counter() - run_started, 2)):
            echo(line)

    for stage_name in order:
        stage = stages[stage_name]
        record = records[stage_name]
        link = run_dir / stage_name
        if stage.cached:
            record["status"] = "cached"
            echo(f"[{stage_name}] cache hit: {stage.output}")
            _link(link, stage.dir)
            _write_manifest(run, "running", records)
            continue
        if stage.name in rerun and stage.dir.exists():
            shutil.rmtree(stage.dir)
        stage.dir.mkdir(parents=True, exist_ok=True)
        _link(link, stage.dir)
        log_path = run_dir / "logs" / f"{stage_name}.log"
        args = command_line(stage, stages, run)
        prefix = _env_prefix(stage, base_dir)
        shown = " ".join((prefix or ["luacoder"]) + args)
        echo(f"[{stage_name}] $ {shown}")
        record.update(status="running", command=shown, log=str(log_path),
                      started=_dt.datetime.now().isoformat(timespec="seconds"))
        _write_manifest(run, "running", records)
        pm.hook.before_stage(stage=stage, run=run)
        started = time.perf_counter()
        try:
            with log_path.open("w", encoding="utf-8") as log:
                log.write(f"$ {shown}\n")
                if prefix is None:
                    _run_in_process(cli, args, log, base_dir)
                else:
                    _run_in_env(prefix, args, log, base_dir)
        except BaseException as exc:
            seconds = round(time.perf_counter() - started, 2)
            record.update(status="failed", seconds=seconds, error=f"{type(exc).__name__}: {exc}")
            _write_manifest(run, "failed", records)
            pm.hook.on_stage_error(stage=stage, run=run, error=exc)
            summary()
            if isinstance(exc, KeyboardInterrupt):
                raise
            tail = _tail(log_path)
            raise RunFailed(
                f"stage '{stage_name}' failed after {seconds}s: {type(exc).__name__}: {exc}\n"
                f"--- last lines of {log_path} ---\n{tail}\n---\n"
                f"fix it and run again: completed stages are reused, this one restarts"
            ) from exc
        seconds = round(time.perf_counter() - started, 2)
        if not stage.output.exists():
            record.update(status="failed", seconds=seconds, error="output missing")
            _write_manifest(run, "failed", records)
            error = RunFailed(f"stage '{stage_name}' finished but wrote no {stage.output}")
            pm.hook.on_stage_error(stage=stage, run=run, error=error)
            summary()
            raise error
        write_text_atomic(stage.dir / COMPLETE, json.dumps(
            {"stage": stage_name, "key": stage.key, "seconds": seconds, "command": shown}) + "\n")
        record.update(status="complete", seconds=seconds)
        _write_manifest(run, "running", records)
        pm.hook.after_stage(stage=stage, run=run, outputs=stage.outputs)
        echo(f"[{stage_name}] done in {seconds:.1f}s -> {stage.output}")

    _write_manifest(run, "complete", records)
    _link(runs_root / name / "latest", run_dir)
    summary()
    echo(f"run folder: {run_dir}")
    return run


def _link(link: Path, target: Path) -> None:
    try:
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target, target_is_directory=True)
    except OSError:
        pass  # links are a convenience; the manifest names every path
