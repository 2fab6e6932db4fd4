"""Near-duplicate removal: MinHash signatures of 5-gram shingles of whitespace tokens, indexed
by datasketch's :class:`~datasketch.MinHashLSH`.

:class:`MinHasher` computes a signature with numpy in one matrix operation per sample (universal
hashing ``a * h + b`` modulo 2**32 over CRC32-hashed shingles, a seeded set of ``num_perm`` odd
multipliers): about 2x faster than ``MinHash.update_batch``, numpy only (so worker processes need
not import datasketch). :class:`NearDuplicateIndex` keeps the LSH bands of every kept sample:
memory grows with the number of kept samples (~1 KB each at 128 permutations), not their size.
"""

from __future__ import annotations

import zlib
from typing import Any


class MinHasher:
    """Seeded MinHash signatures of texts (``numpy.uint32[num_perm]``)."""

    def __init__(self, num_perm: int = 128, shingle: int = 5, seed: int = 0) -> None:
        import numpy as np

        self.np = np
        self.num_perm = num_perm
        self.shingle = shingle
        rng = np.random.default_rng(seed)
        self._a = (rng.integers(0, 1 << 31, size=num_perm, dtype=np.uint64) * 2 + 1).astype(np.uint32)
        self._b = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32)
        self._mult = (rng.integers(0, 1 << 31, size=shingle, dtype=np.uint64) * 2 + 1).astype(np.uint32)

    def signature(self, text: str) -> Any:
        """The signature of ``text``, or None when it has no tokens."""
        np = self.np
        words = text.split()  # whitespace tokens: 6x faster than a regex, as good for copies
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
        return (sh[:, None] * self._a + self._b).min(axis=0)


class _Signature:
    """What :class:`~datasketch.MinHashLSH` reads of a MinHash (``hashvalues``, ``len``),
    without the cost of building a ``MinHash`` object per sample."""

    __slots__ = ("hashvalues",)

    def __init__(self, hashvalues: Any) -> None:
        self.hashvalues = hashvalues

    def __len__(self) -> int:
        return len(self.hashvalues)


class NearDuplicateIndex:
    """``check_and_add(key, text)``: the key of an earlier near duplicate, or None (then the
    text is indexed)."""

    def __init__(self, threshold: float = 0.85, num_perm: int = 128, shingle: int = 5,
                 seed: int = 0) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.hasher = MinHasher(num_perm, shingle, seed)
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.size = 0

    def check_and_add(self, key: str, text: str) -> str | None:
        return self.check_and_add_signature(key, self.hasher.signature(text))

    def check_and_add_signature(self, key: str, values: Any) -> str | None:
        if values is None:
            return None
        sig = _Signature(values)
        found = self.lsh.query(sig)
        if found:
            return sorted(found)[0]
        self.lsh.insert(key, sig, check_duplication=False)
        self.size += 1
        return None
