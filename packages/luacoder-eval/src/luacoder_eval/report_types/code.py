"""Report type ``code``: the whole generated text is Lua (code completion)."""

from __future__ import annotations

from luacoder_core.components import ReportType


class CodeReport(ReportType):
    """The whole generated text is Lua code; the prompt is continued as is."""

    summary = "The whole generation is Lua code (prompts are continued as raw text)."
    #: prompts go through the chat template (True) or are continued as raw text (False)
    chat = False

    def extract_code(self, text: str) -> list[str]:
        return [text] if text.strip() else []

    def syntax_chunks(self, text: str) -> list[str]:
        """The chunks whose syntax is checked: here the same single chunk."""
        return self.extract_code(text)

    def split(self, text: str) -> tuple[list[str], list[str]]:
        """``(code for references, chunks for the syntax check)`` in one pass."""
        code = self.extract_code(text)
        return code, code
