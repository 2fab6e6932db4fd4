"""``luacoder run``: DAG resolution, caching, resume, hooks, errors, env-per-stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from luacoder_core import hookimpl
from luacoder_core.cli import build_cli
from luacoder_core.components import Converter, Trainer
from luacoder_core.plugins import make_plugin_manager
from luacoder_core.records import RecordWriter, iter_records

CALLS: list[str] = []


class Upper(Converter):
    summary = "Upper-case code samples."

    def params(self):
        return [click.Option(["--suffix"], default="")]

    def run(self, inputs, output, suffix=""):
        CALLS.append(f"upper:{Path(output).parent.name.split('-')[0]}")
        with RecordWriter(output, kind="code") as writer:
            for path in inputs:
                for item in iter_records(path):
                    writer.count_read()
                    writer.write({"content": item.record["content"].upper() + suffix}, item)
        return writer.summary


class Count(Trainer):
    summary = "Writes the number of samples it saw; fails when told to."

    def run(self, config, *, source=None, dry_run=False):
        CALLS.append("count")
        if config.get("fail"):
            print("about to fail: the dataset is cursed")
            raise RuntimeError("cursed dataset")
        out = Path(config["output_dir"])
        out.mkdir(parents=True, exist_ok=True)
        n = sum(1 for _ in iter_records(config["dataset"]))
        (out / "count.txt").write_text(f"{n} {config.get('note', '')}\n")
        if config.get("losses"):  # what a HF trainer leaves: the summary reads it
            (out / "trainer_state.json").write_text(json.dumps({
                "global_step": len(config["losses"]),
                "log_history": [{"step": i + 1, "loss": v} for i, v in enumerate(config["losses"])]}))
        if config.get("best"):  # what an eval sweep leaves
            (out / "results.json").write_text(json.dumps({
                "metric": "api_match_accuracy", "best": "checkpoint-2", "rows": [
                    {"checkpoint": "base", "api_match_accuracy": 0.1, "refs_total": 3},
                    {"checkpoint": "checkpoint-2", "api_match_accuracy": 0.875, "refs_total": 24}]}))
            (out / "report.md").write_text("# report\n")
            (out / "report.html").write_text("<html></html>\n")
        print(f"counted {n}")


class Plugin:
    events: list[tuple] = []

    @hookimpl
    def register_converters(self, register):
        register("upper", Upper())

    @hookimpl
    def register_trainers(self, register):
        register("count", Count())

    @hookimpl
    def before_stage(self, stage, run):
        self.events.append(("before", stage.name))

    @hookimpl
    def after_stage(self, stage, run, outputs):
        self.events.append(("after", stage.name, Path(outputs["output"]).exists()))

    @hookimpl
    def on_stage_error(self, stage, run, error):
        self.events.append(("error", stage.name, str(error)))


@pytest.fixture
def project(tmp_path):
    CALLS.clear()
    Plugin.events = []
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text('{"content": "print(1)"}\n{"content": "x = 2"}\n')
    pipeline = {
        "name": "demo",
        "stages": {
            # file order is deliberately not the run order
            "train": {"train": "count", "config": {"dataset": "${stages.shout.output}", "note": "v1"}},
            "shout": {"convert": "upper", "inputs": ["data/a.jsonl"], "options": {"suffix": "!"}},
        },
    }
    return tmp_path, pipeline


def cli_for():
    pm = make_plugin_manager(load_entrypoints=False)
    pm.register(Plugin(), name="toy")
    return build_cli(pm)


def run(tmp_path, pipeline, *args):
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    return CliRunner().invoke(cli_for(), ["run", str(path), *args])


def test_dag_order_outputs_and_manifest(project):
    tmp_path, pipeline = project
    result = run(tmp_path, pipeline)
    assert result.exit_code == 0, result.output
    assert CALLS == ["upper:shout", "count"]
    latest = tmp_path / "runs" / "demo" / "latest"
    manifest = json.loads((latest / "manifest.json").read_text())
    assert manifest["order"] == ["shout", "train"] and manifest["status"] == "complete"
    assert {s["status"] for s in manifest["stages"].values()} == {"complete"}
    assert manifest["stages"]["shout"]["inputs"].keys() == {"data/a.jsonl"}
    assert (latest / "train" / "output" / "count.txt").read_text() == "2 v1\n"
    contents = [json.loads(x)["content"] for x in (latest / "shout" / "shout.jsonl").read_text().splitlines()]
    assert contents == ["PRINT(1)!", "X = 2!"]
    assert "counted 2" in (latest / "logs" / "train.log").read_text()
    assert (latest / "pipeline.yaml").exists()


def test_hook_before_stage(project):
    tmp_path, pipeline = project
    run(tmp_path, pipeline)
    assert [e for e in Plugin.events if e[0] == "before"] == [("before", "shout"), ("before", "train")]


def test_hook_after_stage(project):
    tmp_path, pipeline = project
    run(tmp_path, pipeline)
    assert [e for e in Plugin.events if e[0] == "after"] == [("after", "shout", True), ("after", "train", True)]


def test_hook_on_stage_error(project):
    tmp_path, pipeline = project
    pipeline["stages"]["train"]["config"]["fail"] = True
    result = run(tmp_path, pipeline)
    assert result.exit_code == 1
    assert ("error", "train", "cursed dataset") in Plugin.events
    assert ("after", "train", True) not in Plugin.events


def test_cache_hits_and_edits_rerun_only_affected_stages(project):
    tmp_path, pipeline = project
    assert run(tmp_path, pipeline).exit_code == 0
    CALLS.clear()
    second = run(tmp_path, pipeline)
    assert second.exit_code == 0 and CALLS == []
    assert "[shout] cache hit" in second.output and "[train] cache hit" in second.output
    # an edited trainer value reruns the trainer only
    pipeline["stages"]["train"]["config"]["note"] = "v2"
    CALLS.clear()
    assert run(tmp_path, pipeline).exit_code == 0
    assert CALLS == ["count"]
    # an edited input file reruns the converter and everything downstream
    (tmp_path / "data" / "a.jsonl").write_text('{"content": "y = 3"}\n')
    CALLS.clear()
    assert run(tmp_path, pipeline).exit_code == 0
    assert CALLS == ["upper:shout", "count"]
    latest = tmp_path / "runs" / "demo" / "latest"
    assert (latest / "train" / "output" / "count.txt").read_text() == "1 v2\n"
    # --force reruns one stage
    CALLS.clear()
    assert run(tmp_path, pipeline, "--force", "shout").exit_code == 0
    assert CALLS == ["upper:shout"]


def test_failed_stage_shows_log_tail_and_next_run_resumes(project):
    tmp_path, pipeline = project
    pipeline["stages"]["train"]["config"]["fail"] = True
    failed = run(tmp_path, pipeline)
    assert failed.exit_code == 1
    assert "stage 'train' failed" in failed.output
    assert "about to fail: the dataset is cursed" in failed.output  # the log tail
    runs = sorted(p for p in (tmp_path / "runs" / "demo").iterdir() if p.name[0].isdigit())
    manifest = json.loads((runs[-1] / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert manifest["stages"]["train"]["status"] == "failed"
    assert manifest["stages"]["shout"]["status"] == "complete"
    del pipeline["stages"]["train"]["config"]["fail"]
    CALLS.clear()
    resumed = run(tmp_path, pipeline)
    assert resumed.exit_code == 0, resumed.output
    assert CALLS == ["count"]  # the converter's completed work is reused


def _summary(output: str) -> dict[str, str]:
    lines = output[output.index("summary:"):].splitlines()[2:]
    return {line.split()[0]: line for line in lines if line.startswith("  ") and len(line.split()) > 1
            and not line.strip()[0].isdigit()}


def test_run_ends_with_a_summary_per_stage(project):
    tmp_path, pipeline = project
    pipeline["stages"]["train"]["config"]["losses"] = [2.5, 1.25, 0.5]
    pipeline["stages"]["report"] = {"train": "count", "config": {
        "dataset": "${stages.shout.output}", "best": True, "note": "sweep"}}
    first = run(tmp_path, pipeline)
    assert first.exit_code == 0, first.output
    rows = _summary(first.output)
    assert rows["shout"].split()[1] == "ran" and "2 records" in rows["shout"]
    assert rows["train"].split()[1] == "ran" and "3 steps, loss 2.5 -> 0.5" in rows["train"]
    assert "best checkpoint-2 api_match_accuracy=0.875 over 24 refs" in rows["report"]
    assert "3 ran, 0 cached, 0 failed" in first.output
    reports = first.output[first.output.index("reports:"):].splitlines()
    run_dir = json.loads((tmp_path / "runs" / "demo" / "latest" / "manifest.json").read_text())["run_dir"]
    assert reports[1:3] == [f"  report: {run_dir}/report/output/report.html",
                            f"  report: {run_dir}/report/output/report.md"]
    # cached stages keep their figures and show the time they took when they ran
    second = run(tmp_path, pipeline)
    rows = _summary(second.output)
    assert rows["train"].split()[1] == "cached" and "(" in rows["train"].split()[2]
    assert "loss 2.5 -> 0.5" in rows["train"]
    assert "0 ran, 3 cached, 0 failed" in second.output
    # a failed stage says so, with its error, and what did not run says so too
    pipeline["stages"]["train"]["config"]["fail"] = True
    failed = run(tmp_path, pipeline)
    assert failed.exit_code == 1
    rows = _summary(failed.output)
    assert rows["shout"].split()[1] == "cached"
    assert rows["train"].split()[1] == "failed" and "cursed dataset" in rows["train"]
    assert rows["report"].split()[1:3] == ["not", "run"]


def test_dry_run_prints_plan_and_runs_nothing(project):
    tmp_path, pipeline = project
    result = run(tmp_path, pipeline, "--dry-run")
    assert result.exit_code == 0
    assert CALLS == [] and not (tmp_path / "runs").exists()
    lines = result.output.splitlines()
    assert "1. shout" in lines[1] and "[run]" in lines[1] and "(in-process)" in lines[1]
    assert "2. train" in lines[2] and "after shout" in lines[2]
    run(tmp_path, pipeline)
    again = run(tmp_path, pipeline, "--dry-run")
    assert "[cached]" in again.output.splitlines()[1]


@pytest.mark.parametrize("change,message", [
    (lambda p: p["stages"]["shout"].update(inputs=["${stages.train.output}"]),
     "the stages form a cycle"),
    (lambda p: p["stages"]["train"]["config"].update(dataset="${stages.shuot.output}"),
     "stage 'train' refers to unknown stage 'shuot'; did you mean 'shout'?"),
    (lambda p: p["stages"]["train"].update(train="chat"),
     "stage 'train': no trainer 'chat': pip install luacoder-train"),
    (lambda p: p["stages"]["shout"].update(convert="markdown-api"),
     "stage 'shout': no converter 'markdown-api': pip install luacoder-data"),
    (lambda p: p["stages"]["shout"].update(ouput="x"),
     "unknown key 'stages.shout.ouput'; did you mean 'output'?"),
    (lambda p: p["stages"]["shout"].update(train="count"),
     "stage 'shout' must name exactly one of convert, train, eval, command"),
    (lambda p: p["stages"]["train"]["config"].update(dataset="${stages.shout.path}"),
     "unknown reference '${stages.shout.path}'"),
    (lambda p: p.update(stagez={}), "unknown key 'stagez'; did you mean 'stages'?"),
])
def test_pipeline_errors_before_anything_runs(project, change, message):
    tmp_path, pipeline = project
    change(pipeline)
    result = run(tmp_path, pipeline)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert CALLS == [] and not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_stages_in_separate_virtualenvs(tmp_path, repo_root):
    """Two virtualenvs: the converter's plugin is installed in one, the trainer's in the other;
    the host environment has neither, and the pipeline still runs."""
    core = repo_root / "packages" / "luacoder-core"

    def plugin_package(name, body):
        root = tmp_path / name
        (root / "src" / name.replace("-", "_")).mkdir(parents=True)
        (root / "pyproject.toml").write_text(textwrap.dedent(f"""
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"
            [project]
            name = "{name}"
            version = "0.1.0"
            dependencies = ["luacoder-core"]
            [project.entry-points.luacoder]
            {name.split('-')[1]} = "{name.replace('-', '_')}"
            [tool.hatch.build.targets.wheel]
            packages = ["src/{name.replace('-', '_')}"]
        """))
        (root / "src" / name.replace("-", "_") / "__init__.py").write_text(textwrap.dedent(body))
        return root

    conv = plugin_package("lc-shouter", """
        from luacoder_core import hookimpl
        from luacoder_core.components import Converter
        from luacoder_core.records import RecordWriter, iter_records
        class Shout(Converter):
            def run(self, inputs, output):
                with RecordWriter(output, kind="code") as w:
                    for p in inputs:
                        for item in iter_records(p):
                            w.count_read(); w.write({"content": item.record["content"].upper()})
                return w.summary
        @hookimpl
        def register_converters(register):
            register("shout", Shout())
    """)
    trainer = plugin_package("lc-counter", """
        import sys
        from pathlib import Path
        from luacoder_core import hookimpl
        from luacoder_core.components import Trainer
        from luacoder_core.records import read_records
        class Count(Trainer):
            def run(self, config, *, source=None, dry_run=False):
                out = Path(config["output_dir"]); out.mkdir(parents=True)
                (out / "n.txt").write_text(f"{len(read_records(config['dataset']))} {sys.prefix}")
        @hookimpl
        def register_trainers(register):
            register("count", Count())
    """)
    envs = {}
    for name, pkg in (("data", conv), ("train", trainer)):
        venv = tmp_path / ".venvs" / name
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(core), str(pkg)], check=True,
                       capture_output=True)
        envs[name] = venv
    (tmp_path / "in.jsonl").write_text('{"content": "a"}\n{"content": "b"}\n')
    pipeline = {"name": "envs", "stages": {
        "prep": {"convert": "shout", "inputs": ["in.jsonl"], "env": ".venvs/data"},
        "fit": {"train": "count", "env": ".venvs/train", "config": {"dataset": "${stages.prep.output}"}},
    }}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(pipeline))
    host = CliRunner().invoke(build_cli(make_plugin_manager(load_entrypoints=False)), ["run", str(path)])
    assert host.exit_code == 0, host.output
    n_file = tmp_path / "runs" / "envs" / "latest" / "fit" / "output" / "n.txt"
    count, prefix = n_file.read_text().split()
    assert count == "2" and Path(prefix) == envs["train"]
    # the converter is not installed in the training env: naming it there is caught up front
    pipeline["stages"]["prep"]["env"] = ".venvs/train"
    path.write_text(yaml.safe_dump(pipeline))
    bad = CliRunner().invoke(build_cli(make_plugin_manager(load_entrypoints=False)), ["run", str(path)])
    assert bad.exit_code == 2 and "no converter 'shout' in environment .venvs/train" in bad.output
    assert os.path.exists(n_file)


def test_launch_turns_a_train_stage_into_a_multi_process_launch(tmp_path):
    from luacoder_core.pipeline import RunContext, command_line, load_pipeline, plan

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"name": "gpu", "stages": {
        "sft": {"train": "chat", "launch": {"nproc_per_node": 4, "nnodes": 2, "node_rank": 0},
                "config": {"model_name_or_path": "Qwen/Qwen2.5-Coder-1.5B", "deepspeed": "zero3"}}}}, sort_keys=False))
    _, stages, order = load_pipeline(path)
    plan(stages, order, base_dir=tmp_path, runs_dir=tmp_path / "runs", name="gpu")
    run = RunContext("gpu", path, tmp_path, tmp_path / "runs", tmp_path / "runs" / "r", stages, order)
    args = command_line(stages["sft"], stages, run)
    config = stages["sft"].dir / "config.yaml"
    assert args == ["train", "launch", "--nproc-per-node", "4", "--nnodes", "2", "--node-rank", "0",
                    "chat", str(config)]
    assert yaml.safe_load(config.read_text()) == {
        "model_name_or_path": "Qwen/Qwen2.5-Coder-1.5B", "deepspeed": "zero3",
        "output_dir": str(stages["sft"].output)}


KILLABLE_PLUGIN = '''
import os, time
from pathlib import Path
from luacoder_core import hookimpl
from luacoder_core.components import Converter, Trainer
from luacoder_core.records import RecordWriter, iter_records

class Copy(Converter):
    def run(self, inputs, output):
        with RecordWriter(output, kind="code") as w:
            for p in inputs:
                for item in iter_records(p):
                    w.count_read(); w.write(item.record)
        Path(os.environ["CALL_LOG"]).open("a").write("copy\\n")
        return w.summary

class Slow(Trainer):
    def run(self, config, *, source=None, dry_run=False):
        out = Path(config["output_dir"])
        Path(os.environ["CALL_LOG"]).open("a").write("slow\\n")
        partial = out.parent / "partial.txt"
        resumed = partial.exists()
        partial.write_text("half way")
        if os.environ.get("HANG"):
            time.sleep(120)
        out.mkdir()
        (out / "done.txt").write_text("resumed" if resumed else "fresh")

@hookimpl
def register_converters(register):
    register("copy", Copy())

@hookimpl
def register_trainers(register):
    register("slow", Slow())
'''


@pytest.mark.slow
def test_killed_run_resumes_where_it_stopped(tmp_path, make_fake_dist):
    import signal
    import time

    site = make_fake_dist(tmp_path / "site", "lc-killable", "0.1", {"killable": "killable"},
                          {"killable": KILLABLE_PLUGIN})
    (tmp_path / "in.jsonl").write_text('{"content": "a"}\n')
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump({"name": "k", "stages": {
        "prep": {"convert": "copy", "inputs": ["in.jsonl"]},
        "fit": {"train": "slow", "config": {"dataset": "${stages.prep.output}"}}}}))
    calls = tmp_path / "calls.txt"
    env = {**os.environ, "PYTHONPATH": str(site), "CALL_LOG": str(calls), "HANG": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "luacoder_core", "run", str(pipeline)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not list((tmp_path / "runs" / "k" / "stages").glob("fit-*/partial.txt")):
        assert time.time() < deadline and proc.poll() is None, "the slow stage never started"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert calls.read_text() == "copy\nslow\n"
    del env["HANG"]
    rerun = subprocess.run([sys.executable, "-m", "luacoder_core", "run", str(pipeline)], env=env,
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert "[prep] cache hit" in rerun.stdout
    assert calls.read_text() == "copy\nslow\nslow\n"  # the converter did not run again
    # the interrupted stage restarted in its own folder and found its partial work there
    assert (tmp_path / "runs" / "k" / "latest" / "fit" / "output" / "done.txt").read_text() == "resumed"
