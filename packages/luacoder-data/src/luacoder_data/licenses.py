"""The license a source file is under: the nearest LICENSE/COPYING file above it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

_LICENSE_NAME_RE = re.compile(r"^(?:LICEN[CS]E|COPYING|UNLICENSE)", re.IGNORECASE)

# (SPDX id, every pattern must appear) in order of precedence
_SPDX_RULES: list[tuple[str, tuple[str, ...]]] = [
    ("AGPL-3.0", ("GNU AFFERO GENERAL PUBLIC LICENSE",)),
    ("LGPL-3.0", ("GNU LESSER GENERAL PUBLIC LICENSE", "Version 3")),
    ("LGPL-2.1", ("GNU LESSER GENERAL PUBLIC LICENSE",)),
    ("GPL-3.0", ("GNU GENERAL PUBLIC LICENSE", "Version 3")),
    ("GPL-2.0", ("GNU GENERAL PUBLIC LICENSE", "Version 2")),
    ("Apache-2.0", ("Apache License", "Version 2.0")),
    ("MPL-2.0", ("Mozilla Public License", "2.0")),
    ("BSD-3-Clause", ("Redistribution and use in source and binary forms", "Neither the name")),
    ("BSD-3-Clause", ("Redistribution and use in source and binary forms",
                      "names of its contributors may")),
    ("BSD-2-Clause", ("Redistribution and use in source and binary forms",)),
    ("MIT", ("Permission is hereby granted, free of charge",)),
    ("ISC", ("Permission to use, copy, modify, and/or distribute this software for any purpose",)),
    ("Unlicense", ("This is free and unencumbered software",)),
    ("Zlib", ("This software is provided 'as-is'", "Altered source versions must be plainly marked")),
    ("CC0-1.0", ("CC0 1.0 Universal",)),
    ("WTFPL", ("DO WHAT THE FUCK YOU WANT TO",)),
]


def guess_spdx(text: str) -> str | None:
    """An SPDX id for a license text (also a README's "License" section), or None."""
    flat = re.sub(r"\s+", " ", text)
    for spdx, patterns in _SPDX_RULES:
        if all(p.lower() in flat.lower() for p in patterns):
            return spdx
    m = re.search(r"SPDX-License-Identifier:\s*([\w.+-]+)", text)
    return m.group(1) if m else None


class LicenseFinder:
    """Finds and caches the license of each folder (walking up to ``max_levels`` parents, and
    not above a folder that holds ``.git``)."""

    def __init__(self, max_levels: int = 12) -> None:
        self.max_levels = max_levels
        self._by_dir: dict[str, dict[str, Any] | None] = {}

    def for_file(self, path: str | Path) -> dict[str, Any] | None:
        return self._for_dir(os.path.dirname(os.path.abspath(path)), self.max_levels)

    def _for_dir(self, folder: str, levels: int) -> dict[str, Any] | None:
        if folder in self._by_dir:
            return self._by_dir[folder]
        found = self._in_dir(folder)
        if found is None and levels > 0 and not os.path.isdir(os.path.join(folder, ".git")):
            parent = os.path.dirname(folder)
            if parent != folder:
                found = self._for_dir(parent, levels - 1)
        self._by_dir[folder] = found
        return found

    @staticmethod
    def _in_dir(folder: str) -> dict[str, Any] | None:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return None
        for name in names:
            if not _LICENSE_NAME_RE.match(name):
                continue
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                continue
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = fh.read(200_000)
            except OSError:
                continue
            first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
            return {"file": path, "spdx": guess_spdx(text), "first_line": first[:200]}
        return None
