"""Fill-in-the-middle: a code sample rearranged so a left-to-right model learns to infill.

Character-level split at two random points (as in Bavarian et al. 2022 and StarCoder):

* PSM: ``<fim_prefix>prefix<fim_suffix>suffix<fim_middle>middle``
* SPM: ``<fim_prefix><fim_suffix>suffix<fim_middle>prefix middle`` (StarCoder's SPM variant)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

STARCODER_TOKENS = ("<fim_prefix>", "<fim_middle>", "<fim_suffix>")


@dataclass(frozen=True)
class FimTokens:
    prefix: str = STARCODER_TOKENS[0]
    middle: str = STARCODER_TOKENS[1]
    suffix: str = STARCODER_TOKENS[2]


def fim_transform(content: str, rng: random.Random, mode: str = "psm",
                  tokens: FimTokens = FimTokens()) -> str:
    """Split ``content`` at two random character positions and rearrange it (PSM or SPM)."""
    lo, hi = sorted((rng.randint(0, len(content)), rng.randint(0, len(content))))
    prefix, middle, suffix = content[:lo], content[lo:hi], content[hi:]
    if mode == "spm":
        return f"{tokens.prefix}{tokens.suffix}{suffix}{tokens.middle}{prefix}{middle}"
    if mode == "psm":
        return f"{tokens.prefix}{prefix}{tokens.suffix}{suffix}{tokens.middle}{middle}"
    raise ValueError(f"unknown FIM mode {mode!r} (psm or spm)")


def fim_restore(text: str, mode: str = "psm", tokens: FimTokens = FimTokens()) -> str:
    """The original sample of a FIM-transformed one (for checks and tests)."""
    if mode == "psm":
        rest = text[len(tokens.prefix):]
        prefix, rest = rest.split(tokens.suffix, 1)
        suffix, middle = rest.split(tokens.middle, 1)
        return prefix + middle + suffix
    rest = text[len(tokens.prefix) + len(tokens.suffix):]
    suffix, rest = rest.split(tokens.middle, 1)
    return rest + suffix
