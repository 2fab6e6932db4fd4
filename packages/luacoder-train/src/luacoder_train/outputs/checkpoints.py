"""The checkpoint layout eval relies on, written complete or not at all.

::

    output_dir/
      checkpoint-10/        HF format (adapter only with PEFT), tokenizer, luacoder.json
      checkpoint-20/
      model.safetensors     the final model (or adapter), tokenizer, luacoder.json ("final": true)
      training_curve.png

transformers writes a checkpoint folder file by file, so a kill leaves half a checkpoint that a
resume then trips over. luacoder saves each checkpoint into ``output_dir/.staging/`` and renames
it into place once everything (and ``luacoder.json``, written last) is on disk; a folder without
``luacoder.json`` is never taken for a checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

STAGING = ".staging"
META = "luacoder.json"
_CKPT = re.compile(r"^checkpoint-(\d+)$")


def write_meta(folder: str | Path, meta: dict[str, Any]) -> None:
    folder = Path(folder)
    tmp = folder / f".{META}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / META)


def read_meta(folder: str | Path) -> dict[str, Any] | None:
    path = Path(folder) / META
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def checkpoints(output_dir: str | Path) -> list[tuple[int, Path, bool]]:
    """``(step, folder, complete)`` of every ``checkpoint-N`` folder, by step."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _CKPT.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child, read_meta(child) is not None))
    return sorted(found)


def last_complete_checkpoint(output_dir: str | Path) -> Path | None:
    complete = [folder for _, folder, ok in checkpoints(output_dir) if ok]
    return complete[-1] if complete else None


def clear_staging(output_dir: str | Path) -> None:
    """Remove what a killed run left half-written."""
    shutil.rmtree(Path(output_dir) / STAGING, ignore_errors=True)


def publish(staged: Path, final: Path) -> None:
    """Move a fully written checkpoint folder into place (a rename: atomic on one filesystem)."""
    if final.exists():
        trash = final.with_name(f".{final.name}.old")
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(final, trash)
        os.replace(staged, final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(staged, final)
    _fsync_dir(final.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
