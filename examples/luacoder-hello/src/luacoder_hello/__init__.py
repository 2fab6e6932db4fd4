"""An example luacoder plugin: one command and one converter, through the public hooks."""

from __future__ import annotations

import click
from luacoder_core import hookimpl
from luacoder_core.components import Converter
from luacoder_core.records import RecordWriter, Sourced, iter_records


class UpperCase(Converter):
    """Upper-case the ``content`` of code samples (a toy converter)."""

    summary = "Upper-case the content of code samples (example plugin)."
    output_kind = "code"

    def params(self) -> list[click.Parameter]:
        return [click.Option(["--suffix"], default="", help="Text appended to every sample.")]

    def run(self, inputs, output, suffix=""):
        with RecordWriter(output, kind="code") as writer:
            for path in inputs:
                for item in iter_records(path):
                    writer.count_read()
                    assert isinstance(item, Sourced)
                    record = dict(item.record)
                    content = record.get("content")
                    if not isinstance(content, str):
                        writer.reject(record, "missing 'content'", item)
                        continue
                    record["content"] = content.upper() + suffix
                    writer.write(record, item)
        return writer.summary


@hookimpl
def register_commands(cli):
    @cli.command()
    @click.option("--name", default="world", help="Who to greet.")
    def hello(name):
        """Say hello (example plugin command)."""
        click.echo(f"Hello, {name}!")


@hookimpl
def register_converters(register):
    register("upper-case", UpperCase())
