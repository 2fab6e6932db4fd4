"""Near-duplicate removal: MinHash signatures of word 5-gram shingles, indexed by datasketch's
:class:`~datasketch.MinHashLSH`.

The signatures are computed with numpy in one matrix operation per sample (universal hashing
``a * h + b`` modulo 2**32 over CRC32-hashed shingles, a seeded set of ``num_perm`` odd
multipliers): about 2x faster than feeding ``MinHash.update_batch``, and the LSH index receives
ordinary datasketch ``MinHash`` objects. Memory grows with the number of kept samples (the LSH
band hashes, ~1 KB per sample at 128 permutations), not with their size.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

WORD_RE = re.compile(r"\w+")


class NearDuplicateIndex:
    """``seen(key, text)`` is True when ``text`` is a near duplicate of an earlier kept text."""

    def __init__(self, threshold: float = 0.85, num_perm: int = 128, shingle: int = 5,
                 seed: int = 0) -> None:
        import numpy as np
        from datasketch import MinHash, MinHashLSH

        self.np = np
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle = shingle
        rng = np.random.default_rng(seed)
        self._a = (rng.integers(0, 1 << 31, size=num_perm, dtype=np.uint64) * 2 + 1).astype(np.uint32)
        self._b = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32)
        self._mult = (rng.integers(0, 1 << 31, size=shingle, dtype=np.uint64) * 2 + 1).astype(np.uint32)
        self._template = MinHash(num_perm=num_perm, seed=seed)
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.size = 0

    def signature(self, text: str) -> Any:
        np = self.np
        words = WORD_RE.findall(text)
        if not words:
            return None
        h = np.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=np.uint32, count=len(words))
        k = self.shingle
        if len(h) >= k:
            n = len(h) - k + 1
            sh = h[:n] * self._mult[0]
            for j in range(1, k):
                sh ^= h[j:j + n] * self._mult[j]
        else:
            sh = h * self._mult[0]
        sh = np.unique(sh)
        return (sh[:, None] * self._a + self._b).min(axis=0)

    def minhash(self, text: str) -> Any:
        values = self.signature(text)
        if values is None:
            return None
        m = self._template.copy()
        m.hashvalues = values.astype(m.hashvalues.dtype)
        return m

    def check_and_add(self, key: str, text: str) -> str | None:
        """The key of an earlier near duplicate of ``text``, or None (then ``text`` is indexed)."""
        m = self.minhash(text)
        if m is None:
            return None
        found = self.lsh.query(m)
        if found:
            return sorted(found)[0]
        self.lsh.insert(key, m, check_duplication=False)
        self.size += 1
        return None
