"""Exceptions that carry the exit code of the ``luacoder`` command line.

Exit codes (DESIGN.md): 0 success, 1 a failed run, 2 a usage or input error whose message names
the file, line or key at fault.
"""

from __future__ import annotations

import click


class LuacoderError(click.ClickException):
    """Base class: a message for the user and an exit code."""

    exit_code = 1

    def format_message(self) -> str:
        return self.message


class InputError(LuacoderError):
    """Bad input: a missing file, a malformed line, an unknown key. Exit code 2."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        where = ""
        if file is not None:
            where = str(file)
            if line is not None:
                where += f":{line}"
        if key is not None:
            where = f"{where}: key '{key}'" if where else f"key '{key}'"
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.line = line
        self.key = key


class ConfigError(InputError):
    """A config file or ``--set`` override that cannot be used."""


class PluginError(LuacoderError):
    """A plugin that cannot be used: failed import in strict mode, unknown hook, duplicate name."""

    exit_code = 2


class RunFailed(LuacoderError):
    """The command ran but the work failed. Exit code 1."""

    exit_code = 1
