"""luacoder core: hooks, plugin manager, CLI, configs, records and Lua/markdown analysis.

Plugins write ``from luacoder_core import hookimpl``.
"""

import pluggy

__version__ = "0.1.0"

PROJECT_NAME = "luacoder"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

from luacoder_core.errors import InputError, LuacoderError, RunFailed  # noqa: E402

__all__ = [
    "PROJECT_NAME",
    "InputError",
    "LuacoderError",
    "RunFailed",
    "__version__",
    "hookimpl",
    "hookspec",
]
