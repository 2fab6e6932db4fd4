"""A client for any OpenAI-compatible chat endpoint, made to run unattended over thousands of
requests: responses cached on disk by request, retries with backoff, bounded concurrency.

* The cache key is a hash of what decides the answer (model, messages, temperature, max_tokens,
  seed), not the URL: the same teacher on another port or host hits the same cache. Each answer
  is its own file, written atomically the moment it arrives, so a run that dies keeps every
  answer it paid for and a rerun sends only the requests that have no answer yet.
* Timeouts, connection errors, 429 and 5xx are retried with exponential backoff and jitter
  (``Retry-After`` honoured, capped); other 4xx are the request's fault and are not retried.
* ``complete_many`` runs at most ``concurrency`` requests at a time and returns results in
  input order.

Needs ``httpx2`` (``pip install 'luacoder-data[teacher]'``); no torch, no luacoder-eval.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luacoder_core.errors import InputError

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})


@dataclass
class TeacherReply:
    """One answer: ``text`` (None when the request failed for good, ``error`` says why)."""

    text: str | None
    cached: bool = False
    error: str | None = None
    finish_reason: str | None = None
    attempts: int = 0


@dataclass
class TeacherStats:
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    seconds_waiting: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: float) -> None:
        with self.lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)


class TeacherClient:
    def __init__(self, url: str, model: str, *, api_key: str | None = None,
                 cache_dir: str | Path | None = None, timeout: float = 120.0,
                 max_retries: int = 5, concurrency: int = 4, temperature: float = 0.7,
                 max_tokens: int = 1024, seed: int | None = None,
                 backoff: float = 1.0, max_backoff: float = 60.0) -> None:
        try:
            import httpx2
        except ImportError as exc:
            raise InputError("--teacher needs an HTTP client: pip install 'luacoder-data[teacher]'"
                             ) from exc
        if not url.startswith(("http://", "https://")):
            raise InputError(f"--teacher must be an http(s) URL (the API base, e.g. "
                             f"http://127.0.0.1:8000/v1), got {url!r}", key="teacher")
        self.url = url.rstrip("/")
        self.endpoint = (self.url if self.url.endswith("/chat/completions")
                         else self.url + "/chat/completions")
        self.model = model
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.max_retries = max_retries
        self.concurrency = max(1, concurrency)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stats = TeacherStats()
        headers = {"Content-Type": "application/json", "User-Agent": "luacoder-data teacher"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._httpx = httpx2
        self._client = httpx2.Client(headers=headers, timeout=httpx2.Timeout(timeout),
                                     limits=httpx2.Limits(max_connections=self.concurrency))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> TeacherClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- cache

    def body(self, messages: list[dict]) -> dict:
        body: dict[str, Any] = {"model": self.model, "messages": messages,
                                "temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.seed is not None:
            body["seed"] = self.seed
        return body

    @staticmethod
    def key(body: dict) -> str:
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False)
                              .encode("utf-8")).hexdigest()

    def _cache_path(self, key: str) -> Path | None:
        return self.cache_dir / key[:2] / f"{key}.json" if self.cache_dir else None

    def _cached(self, key: str) -> dict | None:
        path = self._cache_path(key)
        if path is None or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # a torn or foreign file: ask again, it is overwritten
        return data if isinstance(data, dict) and isinstance(data.get("text"), str) else None

    def _store(self, key: str, body: dict, text: str, finish: str | None) -> None:
        path = self._cache_path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".part", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"request": body, "text": text, "finish_reason": finish,
                       "saved": time.time()}, fh, ensure_ascii=False)
        os.replace(tmp, path)

    # ---------------------------------------------------------------------------------- calls

    def complete(self, messages: list[dict]) -> TeacherReply:
        body = self.body(messages)
        key = self.key(body)
        hit = self._cached(key)
        if hit is not None:
            self.stats.add(cache_hits=1)
            return TeacherReply(hit["text"], cached=True, finish_reason=hit.get("finish_reason"))
        reply = self._post(body)
        if reply.text is not None:
            self._store(key, body, reply.text, reply.finish_reason)
        return reply

    def complete_many(self, conversations: Sequence[list[dict]],
                      progress: Callable[[], None] | None = None) -> list[TeacherReply]:
        if not conversations:
            return []

        def one(messages: list[dict]) -> TeacherReply:
            try:
                return self.complete(messages)
            finally:
                if progress is not None:
                    progress()

        if self.concurrency == 1 or len(conversations) == 1:
            return [one(m) for m in conversations]
        with ThreadPoolExecutor(max_workers=self.concurrency,
                                thread_name_prefix="luacoder-teacher") as pool:
            return list(pool.map(one, conversations))

    def _post(self, body: dict) -> TeacherReply:
        httpx2 = self._httpx
        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            self.stats.add(requests=1)
            wait = None
            try:
                response = self._client.post(self.endpoint, json=body)
            except (httpx2.TimeoutException, httpx2.TransportError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    try:
                        data = response.json()
                        choice = data["choices"][0]
                        text = (choice.get("message") or {}).get("content")
                        if text is None:
                            text = choice.get("text")
                        if not isinstance(text, str):
                            raise ValueError("no text in choices[0]")
                    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                        # a reply without text (a refusal, another API's shape) will not change
                        self.stats.add(failures=1)
                        return TeacherReply(None, error=f"unreadable reply: {exc}",
                                            attempts=attempt + 1)
                    else:
                        return TeacherReply(text, finish_reason=choice.get("finish_reason"),
                                            attempts=attempt + 1)
                else:
                    last = f"HTTP {response.status_code}: {_error_message(response)}"
                    if response.status_code not in RETRY_STATUS:
                        self.stats.add(failures=1)
                        return TeacherReply(None, error=last, attempts=attempt + 1)
                    wait = _retry_after(response)
            if attempt == self.max_retries:
                break
            delay = min(self.max_backoff, wait if wait is not None
                        else self.backoff * (2 ** attempt) * (0.5 + random.random()))
            self.stats.add(retries=1, seconds_waiting=delay)
            time.sleep(delay)
        self.stats.add(failures=1)
        return TeacherReply(None, error=f"gave up after {self.max_retries + 1} attempts: {last}",
                            attempts=self.max_retries + 1)


def _error_message(response: Any) -> str:
    try:
        data = response.json()
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        if isinstance(error, str):
            return error[:300]
    except ValueError:
        pass
    return (response.text or "").strip()[:300] or response.reason_phrase


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
