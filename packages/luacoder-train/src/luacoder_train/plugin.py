"""The luacoder-train plugin: the ``pretrain``, ``chat`` and ``dpo`` trainers and the
``train init-model``, ``train merge`` and ``train launch`` commands.

Cheap to import: nothing here (or in the modules it imports) loads torch, transformers, trl,
peft or datasets; the trainers and commands import them when they run.
"""

from __future__ import annotations

from luacoder_core import hookimpl


@hookimpl
def register_trainers(register):
    from luacoder_train.trainers import BUILTIN

    for name, cls in BUILTIN.items():
        register(name, cls())


@hookimpl
def register_commands(cli):
    from luacoder_train.commands import init_model, launch, merge

    train = cli.commands["train"]
    train.add_command(init_model.command())
    train.add_command(merge.command())
    train.add_command(launch.command())


@hookimpl
def register_rewards(register):
    from luacoder_train.rewards import ApiGrounded, LuaSyntax

    register("lua_syntax", LuaSyntax())
    register("api_grounded", ApiGrounded())
