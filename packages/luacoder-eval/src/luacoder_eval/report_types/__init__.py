"""Report types: how Lua code is read out of a generated text (DESIGN.md, API match step 1)."""

from luacoder_eval.report_types.code import CodeReport
from luacoder_eval.report_types.markdown import MarkdownReport

__all__ = ["CodeReport", "MarkdownReport"]
