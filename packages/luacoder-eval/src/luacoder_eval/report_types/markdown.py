"""Report type ``markdown``: a chat answer; Lua is in its code blocks and inline code spans."""

from __future__ import annotations

from luacoder_core.components import ReportType


class MarkdownReport(ReportType):
    """Lua is every fenced block tagged ``lua`` or untagged, plus every inline code span
    (``luacoder_core.markdown.lua_code``)."""

    summary = ("A markdown chat answer: Lua in ```lua / untagged fenced blocks and inline code "
               "spans (prompts go through the chat template).")
    chat = True

    def extract_code(self, text: str) -> list[str]:
        from luacoder_core.markdown import lua_code

        return lua_code(text)

    def syntax_chunks(self, text: str) -> list[str]:
        return self.split(text)[1]

    def split(self, text: str) -> tuple[list[str], list[str]]:
        """``(code for references, chunks for the syntax check)``.

        Only the fenced blocks are checked for syntax: an inline span such as ``tween.new`` is a
        name, not a chunk, and would never compile on its own. ``lua_code`` lists the blocks
        first and the inline spans after them, so the blocks are its first ``len - spans``.
        """
        from luacoder_core.markdown import inline_code, lua_code

        code = lua_code(text)
        spans = len(inline_code(text)) if code else 0
        blocks = code[: len(code) - spans]
        return code, [b for b in blocks if b.strip()]
