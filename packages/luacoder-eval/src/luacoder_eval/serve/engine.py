"""The serving engine: one thread owns the model and decodes every running request together.

Continuous batching over a transformers model with a KV cache the engine controls:

* requests wait in a queue; the scheduler admits them into the running batch up to
  ``max_batch`` rows (one row per choice, so ``n=3`` takes three), waiting ``batch_wait_s`` for
  company when the batch is empty;
* new rows are prefilled together, left padded (as the sweep's batched generation), then their
  keys and values are left padded to the running batch's length and joined to it, so a request
  never waits for the batch in front of it to finish;
* every step decodes one token for every row with explicit position ids and a 2-D attention
  mask, samples each row with its own temperature, top-p and seeded generator, and hands the new
  text to the request's sink (a stream, or a collector);
* a row that is finished (eos, a stop string, ``max_tokens``) or cancelled (its client went away)
  is dropped from the batch at the next step, and the cache columns no row needs any more are
  trimmed, so its slot and its memory are free again.

Models whose cache is not a plain :class:`transformers.DynamicCache` (sliding-window or hybrid
layers) cannot be joined safely: for them a batch runs until its last row ends and new requests
form the next batch (``joinable`` is False).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("luacoder.serve")


@dataclass
class SamplingParams:
    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    #: keep going past the end-of-sequence token (benchmarks; vLLM's ``ignore_eos``)
    ignore_eos: bool = False


@dataclass
class Event:
    """What a request's sink receives: ``delta`` (new text of choice ``index``), ``finish``
    (``reason`` is ``stop`` or ``length``) or ``error`` (the request failed; ``text`` says why)."""

    kind: str
    index: int = 0
    text: str = ""
    reason: str | None = None
    tokens: int = 0


class Request:
    """One API request: ``n`` choices of the same prompt, events delivered to ``sink``."""

    def __init__(self, prompt_ids: list[int], params: SamplingParams, n: int,
                 sink: Callable[[Event], None]) -> None:
        self.prompt_ids = prompt_ids
        self.params = params
        self.n = n
        self.sink = sink
        self.cancelled = False
        self.submitted = time.monotonic()
        self.open_choices = n

    def cancel(self) -> None:
        """Stop generating for this request (its client went away); its rows leave the batch at
        the next step."""
        self.cancelled = True


class _Row:
    """One choice being generated: its tokens, its text so far and what has been sent."""

    __slots__ = ("request", "index", "generator", "tokens", "text", "sent", "done",
                 "prefix_offset", "read_offset")

    def __init__(self, request: Request, index: int, generator: Any) -> None:
        self.request = request
        self.index = index
        self.generator = generator
        self.tokens: list[int] = []
        #: the text of ``tokens[:read_offset]``; ``sent`` characters of it went to the sink
        self.text = ""
        self.sent = 0
        self.done = False
        self.prefix_offset = 0
        self.read_offset = 0

    @property
    def position(self) -> int:
        """The position of the last sampled token (the one the next step feeds)."""
        return len(self.request.prompt_ids) + len(self.tokens) - 1


def stop_holdback(text: str, stops: list[str]) -> int:
    """How many characters at the end of ``text`` could be the start of a stop string (they
    are held back from a stream until the next token decides)."""
    keep = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, len(text)), keep, -1):
            if stop.startswith(text[-k:]):
                keep = k
                break
    return keep


def first_stop(text: str, stops: list[str], start: int = 0) -> int:
    """The index of the earliest stop string in ``text`` at or after ``start``, or -1."""
    best = -1
    for stop in stops:
        at = text.find(stop, start)
        if at >= 0 and (best < 0 or at < best):
            best = at
    return best


@dataclass
class EngineStats:
    requests: int = 0
    finished: int = 0
    cancelled: int = 0
    failed: int = 0
    tokens: int = 0
    steps: int = 0
    max_rows: int = 0
    #: rows that joined a batch already decoding (continuous batching at work)
    joined: int = 0


class Engine:
    """Runs ``model`` for concurrent requests; :meth:`submit` is thread safe."""

    def __init__(self, model: Any, tokenizer: Any, *, max_batch: int = 16,
                 batch_wait_s: float = 0.005, max_queue: int = 1024) -> None:
        import torch

        self.model = model
        self.tokenizer = tokenizer
        self.max_batch = max(1, max_batch)
        self.batch_wait_s = batch_wait_s
        self.max_queue = max_queue
        self.device = next(model.parameters()).device
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        if eos is None:
            eos = tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
        self.stats = EngineStats()
        self._pending: deque[Request] = deque()
        self._lock = threading.Condition()
        self._rows: list[_Row] = []
        self._cache: Any = None
        self._mask: Any = None
        self._torch = torch
        self.joinable: bool | None = None
        self._cache_arg = _cache_argument(model)
        self._stopping = False
        self._thread: threading.Thread | None = None

    # --------------------------------------------------------------------------- public side

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="luacoder-serve-engine",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, request: Request) -> bool:
        """Queue ``request``; False when the queue is full (the caller answers 429)."""
        with self._lock:
            if len(self._pending) >= self.max_queue:
                return False
            self._pending.append(request)
            self.stats.requests += 1
            self._lock.notify_all()
        return True

    def load(self) -> dict:
        with self._lock:
            return {"running": len(self._rows), "waiting": len(self._pending),
                    "max_batch": self.max_batch, "joinable": self.joinable,
                    **self.stats.__dict__}

    # --------------------------------------------------------------------------- scheduler

    def _loop(self) -> None:
        while True:
            new = self._take_new()
            if new is None:
                return
            try:
                if new:
                    self._prefill(new)
                if self._rows:
                    self._step()
            except Exception as exc:  # the server stays up; the rows in flight fail
                log.exception("generation step failed")
                self._fail_all(f"generation failed: {type(exc).__name__}: {exc}")

    def _take_new(self) -> list[_Row] | None:
        """Rows to admit now (possibly none); None when the engine is stopping."""
        with self._lock:
            while not self._rows and not self._pending and not self._stopping:
                self._lock.wait(0.5)
            if self._stopping:
                return None
            can_join = not self._rows or self.joinable is not False
            if not can_join:
                return []
            if not self._rows and self.batch_wait_s > 0:
                # an empty batch waits a moment for company: concurrent clients arrive together
                deadline = time.monotonic() + self.batch_wait_s
                while self._pending_rows() < self.max_batch:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._stopping:
                        break
                    self._lock.wait(left)
            rows: list[_Row] = []
            free = self.max_batch - len(self._rows)
            while self._pending and free > 0:
                request = self._pending[0]
                if request.cancelled:
                    self._pending.popleft()
                    self.stats.cancelled += 1
                    continue
                if request.n > free and (self._rows or rows):
                    break  # all of a request's choices start together
                self._pending.popleft()
                for index in range(request.n):
                    rows.append(_Row(request, index, self._generator(request, index)))
                free -= request.n
            return rows

    def _pending_rows(self) -> int:
        return sum(r.n for r in self._pending)

    def _generator(self, request: Request, index: int) -> Any:
        if request.params.temperature <= 0:
            return None
        gen = self._torch.Generator(device="cpu")
        if request.params.seed is None:
            gen.seed()
        else:
            gen.manual_seed(request.params.seed + index)
        return gen

    # --------------------------------------------------------------------------- model work

    def _prefill(self, rows: list[_Row]) -> None:
        torch = self._torch
        from transformers import DynamicCache

        width = max(len(r.request.prompt_ids) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            prompt = row.request.prompt_ids
            ids[i, width - len(prompt):] = torch.tensor(prompt, dtype=torch.long)
            mask[i, width - len(prompt):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache()
        with torch.inference_mode():
            out = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                             position_ids=positions.to(self.device), use_cache=True,
                             logits_to_keep=1, **{self._cache_arg: cache})
        cache = _output_cache(out)
        if self.joinable is None:
            self.joinable = _plain_layers(cache)
            if not self.joinable:
                log.warning("this model's cache cannot be joined: requests are batched per "
                            "batch, not per step")
        self._join(rows, cache, mask.to(self.device))
        self._emit(rows, out.logits[:, -1, :])

    def _join(self, rows: list[_Row], cache: Any, mask: Any) -> None:
        torch = self._torch
        if not self._rows:
            self._rows, self._cache, self._mask = list(rows), cache, mask
            return
        old_len, new_len = self._mask.shape[1], mask.shape[1]
        width = max(old_len, new_len)
        for old_layer, new_layer in zip(self._cache.layers, cache.layers):
            for name in ("keys", "values"):
                a, b = getattr(old_layer, name), getattr(new_layer, name)
                setattr(old_layer, name, torch.cat([_left_pad(a, width), _left_pad(b, width)], 0))
        self._mask = torch.cat([_left_pad(self._mask, width), _left_pad(mask, width)], 0)
        self._rows.extend(rows)
        self.stats.joined += len(rows)

    def _step(self) -> None:
        torch = self._torch
        last = torch.tensor([[r.tokens[-1]] for r in self._rows], dtype=torch.long,
                            device=self.device)
        positions = torch.tensor([[r.position] for r in self._rows], dtype=torch.long,
                                 device=self.device)
        self._mask = torch.cat([self._mask, torch.ones((len(self._rows), 1), dtype=self._mask.dtype,
                                                       device=self.device)], 1)
        with torch.inference_mode():
            out = self.model(input_ids=last, attention_mask=self._mask, position_ids=positions,
                             use_cache=True, **{self._cache_arg: self._cache})
        self._cache = _output_cache(out)
        self.stats.steps += 1
        self._emit(self._rows, out.logits[:, -1, :])

    def _emit(self, rows: list[_Row], logits: Any) -> None:
        """Sample one token for each of ``rows``, send the new text, then drop the rows that
        are done or cancelled."""
        tokens = self._sample(rows, logits)
        self.stats.max_rows = max(self.stats.max_rows, len(self._rows))
        for row, token in zip(rows, tokens):
            if row.request.cancelled:
                row.done = True
                continue
            row.tokens.append(token)
            self.stats.tokens += 1
            params = row.request.params
            reason = None
            if token in self.eos_ids and not params.ignore_eos:
                reason = "stop"
                row.tokens.pop()
            else:
                self._advance_text(row)
            text = row.text
            if params.stop:
                at = first_stop(text, params.stop, max(0, row.sent - max(map(len, params.stop))))
                if at >= 0:
                    text, reason = text[:at], "stop"
            if reason is None and len(row.tokens) >= params.max_tokens:
                reason = "length"
            end = len(text) if reason is not None else len(text) - stop_holdback(text, params.stop)
            if end > row.sent:
                row.request.sink(Event("delta", row.index, text[row.sent:end]))
                row.sent = end
            if reason is not None:
                row.done = True
                row.request.sink(Event("finish", row.index, reason=reason,
                                       tokens=len(row.tokens)))
                self._close_choice(row.request)
        self._drop_done()

    def _advance_text(self, row: _Row) -> None:
        """Extend ``row.text`` by the text of its new tokens, decoding a short window instead
        of the whole answer each step (TGI's and vLLM's incremental detokenisation): the window
        starts a few tokens back so that merges and leading spaces come out as in one decode,
        and text ending in half a UTF-8 character waits for the next token."""
        decode = self.tokenizer.decode
        before = decode(row.tokens[row.prefix_offset:row.read_offset], skip_special_tokens=True)
        after = decode(row.tokens[row.prefix_offset:], skip_special_tokens=True)
        if len(after) > len(before) and not after.endswith("\ufffd"):
            row.text += after[len(before):]
            row.prefix_offset = row.read_offset
            row.read_offset = len(row.tokens)

    def _sample(self, rows: list[_Row], logits: Any) -> list[int]:
        torch = self._torch
        logits = logits.float()
        greedy = logits.argmax(-1).tolist()
        tokens: list[int] = []
        for i, row in enumerate(rows):
            params = row.request.params
            if params.temperature <= 0 or row.generator is None:
                tokens.append(greedy[i])
                continue
            probs = torch.softmax(logits[i] / params.temperature, -1).cpu()
            if params.top_p < 1.0:
                sorted_probs, order = probs.sort(descending=True)
                cumulative = sorted_probs.cumsum(-1)
                sorted_probs[(cumulative - sorted_probs) > params.top_p] = 0
                probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
            tokens.append(int(torch.multinomial(probs, 1, generator=row.generator)))
        return tokens

    def _close_choice(self, request: Request) -> None:
        request.open_choices -= 1
        if request.open_choices == 0:
            self.stats.finished += 1

    def _drop_done(self) -> None:
        torch = self._torch
        for row in self._rows:
            if not row.done and row.request.cancelled:
                row.done = True
        if not any(r.done for r in self._rows):
            return
        for request in {id(r.request): r.request for r in self._rows if r.done}.values():
            if request.cancelled and request.open_choices > 0:
                request.open_choices = 0
                self.stats.cancelled += 1
        keep = [i for i, r in enumerate(self._rows) if not r.done]
        if not keep:
            self._rows, self._cache, self._mask = [], None, None
            return
        index = torch.tensor(keep, dtype=torch.long, device=self.device)
        self._rows = [self._rows[i] for i in keep]
        self._mask = self._mask.index_select(0, index)
        self._cache.batch_select_indices(index)
        if self.joinable:
            # columns no remaining row attends to (their prompts were shorter) are dropped
            used = self._mask.any(0).nonzero()
            start = int(used[0]) if len(used) else 0
            if start > 0:
                self._mask = self._mask[:, start:]
                for layer in self._cache.layers:
                    layer.keys = layer.keys[:, :, start:, :]
                    layer.values = layer.values[:, :, start:, :]

    def _fail_all(self, message: str) -> None:
        failed = {id(r.request): r.request for r in self._rows}
        self._rows, self._cache, self._mask = [], None, None
        for request in failed.values():
            self.stats.failed += 1
            request.open_choices = 0
            request.sink(Event("error", text=message))


def _left_pad(tensor: Any, width: int) -> Any:
    """``tensor`` padded with zeros on the left of its sequence dimension (dim 1 of a mask,
    dim 2 of a key/value tensor) to ``width``."""
    import torch

    dim = 1 if tensor.dim() == 2 else 2
    missing = width - tensor.shape[dim]
    if missing <= 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([torch.zeros(shape, dtype=tensor.dtype, device=tensor.device), tensor], dim)


def _plain_layers(cache: Any) -> bool:
    """True when every layer of ``cache`` is a plain full-attention DynamicLayer with 4-D keys
    and values (what joining and trimming assume)."""
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:  # pragma: no cover - older transformers
        return False
    layers = getattr(cache, "layers", None)
    if not layers:
        return False
    return all(type(layer) is DynamicLayer and getattr(layer, "keys", None) is not None
               and layer.keys.dim() == 4 for layer in layers)



def _cache_argument(model: Any) -> str:
    """The forward argument that takes the KV cache: ``cache`` in recent transformers,
    ``past_key_values`` before (a PEFT model passes it through to its base model)."""
    import inspect

    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        params = inspect.signature(target.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - exotic wrappers
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


def _output_cache(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values
