"""luacoder eval: generate from checkpoints, score what they wrote, pick the best one.

Importing this package is cheap; torch, transformers and peft are imported by the commands that
need them.
"""

__version__ = "0.1.0"
