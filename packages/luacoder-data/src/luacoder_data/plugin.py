"""The built-in data converters and the ``luacoder data inspect`` command, as a luacoder plugin.

Found through ``[project.entry-points.luacoder] data = "luacoder_data.plugin"``. Importing this
module stays cheap: the converters import datasets, pandas and datasketch inside ``run``.
"""

from __future__ import annotations

from luacoder_core import hookimpl


@hookimpl
def register_converters(register):
    from luacoder_data.converters.api_chat import ApiChatConverter
    from luacoder_data.converters.api_preference import ApiPreferenceConverter
    from luacoder_data.converters.dialogue import DialogueConverter
    from luacoder_data.converters.generation_preference import GenerationPreferenceConverter
    from luacoder_data.converters.lua_api import ApiDocsConverter, LuaApiConverter
    from luacoder_data.converters.lua_code import LuaCodeConverter
    from luacoder_data.converters.markdown_api import MarkdownApiConverter

    register("markdown-api", MarkdownApiConverter())
    register("lua-api", LuaApiConverter())
    register("api-docs", ApiDocsConverter())
    register("dialogue", DialogueConverter())
    register("lua-code", LuaCodeConverter())
    register("api-chat", ApiChatConverter())
    register("api-preference", ApiPreferenceConverter())
    register("generation-preference", GenerationPreferenceConverter())


@hookimpl
def register_commands(cli):
    from luacoder_data.inspect import inspect_command

    data = cli.commands.get("data")
    if data is not None:
        data.add_command(inspect_command)
