"""``luacoder train launch [OPTIONS] TRAINER CONFIG.yaml [--set k=v ...]``: multi-GPU and
multi-node runs.

Builds and runs ``python -m torch.distributed.run <torchrun options> -m luacoder_train.run TRAINER
CONFIG ...`` (or ``accelerate launch`` with ``--launcher accelerate``), one process per GPU on each
node. With DeepSpeed, name the config in the recipe (``deepspeed: zero3``). ``--print`` shows the
command without running it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from luacoder_core.errors import InputError


def torchrun_command(trainer_args: list[str], *, nproc_per_node: str, nnodes: str,
                     node_rank: int | None = None, master_addr: str | None = None,
                     master_port: int | None = None, rdzv_backend: str | None = None,
                     rdzv_endpoint: str | None = None, rdzv_id: str | None = None,
                     rdzv_conf: str | None = None, max_restarts: int | None = None,
                     extra: tuple[str, ...] = ()) -> list[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc_per_node),
           "--nnodes", str(nnodes)]
    for flag, value in (("--node-rank", node_rank), ("--master-addr", master_addr),
                        ("--master-port", master_port), ("--rdzv-backend", rdzv_backend),
                        ("--rdzv-endpoint", rdzv_endpoint), ("--rdzv-id", rdzv_id),
                        ("--rdzv-conf", rdzv_conf), ("--max-restarts", max_restarts)):
        if value is not None:
            cmd += [flag, str(value)]
    cmd += list(extra)
    return cmd + ["-m", "luacoder_train.run", *trainer_args]


def accelerate_command(trainer_args: list[str], *, nproc_per_node: str, nnodes: str,
                       node_rank: int | None = None, master_addr: str | None = None,
                       master_port: int | None = None, config_file: str | None = None,
                       extra: tuple[str, ...] = (), **_ignored) -> list[str]:
    from luacoder_train.recipe.config import ACCELERATE_DIR

    if not nproc_per_node.isdigit() or not str(nnodes).isdigit():
        raise InputError("accelerate needs numeric --nproc-per-node and --nnodes")
    total = int(nproc_per_node) * int(nnodes)
    cmd = [sys.executable, "-m", "accelerate.commands.launch",
           "--config_file", config_file or str(ACCELERATE_DIR / "multi_gpu.yaml"),
           "--num_processes", str(total), "--num_machines", str(nnodes)]
    for flag, value in (("--machine_rank", node_rank), ("--main_process_ip", master_addr),
                        ("--main_process_port", master_port)):
        if value is not None:
            cmd += [flag, str(value)]
    cmd += list(extra)
    return cmd + ["-m", "luacoder_train.run", *trainer_args]


def command():
    import click

    @click.command("launch", context_settings={"ignore_unknown_options": True,
                                               "allow_interspersed_args": False})
    @click.option("--nproc-per-node", default="gpu", show_default=True,
                  help="Processes per node: a number, or gpu / cpu / auto (torchrun).")
    @click.option("--nnodes", default="1", show_default=True,
                  help="Number of nodes, or MIN:MAX for elastic runs.")
    @click.option("--node-rank", type=int, default=None, help="This node's rank (static rendezvous).")
    @click.option("--master-addr", default=None, help="Address of the rank-0 node.")
    @click.option("--master-port", type=int, default=None, help="Port on the rank-0 node.")
    @click.option("--rdzv-backend", default=None, help="Rendezvous backend (c10d, etcd...).")
    @click.option("--rdzv-endpoint", default=None, help="Rendezvous endpoint HOST:PORT.")
    @click.option("--rdzv-id", default=None, help="Rendezvous (job) id shared by all nodes.")
    @click.option("--rdzv-conf", default=None, help="Extra rendezvous settings key=value,...")
    @click.option("--max-restarts", type=int, default=None, help="Restarts of failed workers.")
    @click.option("--launcher", type=click.Choice(["torchrun", "accelerate"]), default="torchrun",
                  show_default=True)
    @click.option("--accelerate-config", default=None,
                  help="accelerate config file (default: the package's multi_gpu.yaml).")
    @click.option("--launcher-arg", "extra", multiple=True, metavar="ARG",
                  help="Pass one more argument to the launcher (repeatable).")
    @click.option("--print", "print_only", is_flag=True, help="Print the command, do not run it.")
    @click.argument("trainer_args", nargs=-1, type=click.UNPROCESSED, required=True,
                    metavar="TRAINER CONFIG.yaml [--set k=v ...]")
    def launch_cmd(trainer_args, launcher, accelerate_config, print_only, **options) -> None:
        """Run a trainer on several GPUs or nodes with torchrun (or accelerate launch).

        Example, one node with 4 GPUs and ZeRO-3 named in the recipe:

            luacoder train launch --nproc-per-node 4 chat recipe.yaml

        Two nodes (run on each, with its --node-rank):

            luacoder train launch --nnodes 2 --nproc-per-node 8 --node-rank 0
            --master-addr 10.0.0.1 --master-port 29500 chat recipe.yaml
        """
        if len(trainer_args) < 2:
            raise InputError("launch needs TRAINER CONFIG.yaml after its options")
        args = list(trainer_args)
        if launcher == "accelerate":
            cmd = accelerate_command(args, config_file=accelerate_config, **options)
        else:
            cmd = torchrun_command(args, **options)
        click.echo("+ " + " ".join(shlex.quote(c) for c in cmd), err=True)
        if print_only:
            return
        env = dict(os.environ)
        try:
            import torch

            if not torch.cuda.is_available():
                env.setdefault("DS_ACCELERATOR", "cpu")
        except ImportError:  # pragma: no cover - torch is a dependency
            pass
        rc = subprocess.call(cmd, env=env)
        if rc:
            sys.exit(rc)

    return launch_cmd
