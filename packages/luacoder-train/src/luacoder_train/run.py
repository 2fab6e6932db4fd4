"""``python -m luacoder_train.run TRAINER CONFIG.yaml [--set k=v] [--dry-run]``.

The module torchrun / accelerate start in every process of a multi-GPU or multi-node run (see
``luacoder train launch``); it is ``luacoder train`` without the rest of the CLI.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from luacoder_core.cli import main as luacoder_main

    luacoder_main(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
