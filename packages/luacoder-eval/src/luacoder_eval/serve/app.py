"""The OpenAI-compatible HTTP API of ``luacoder eval serve`` (FastAPI).

Routes: ``GET /v1/models``, ``GET /v1/models/{id}``, ``POST /v1/chat/completions``,
``POST /v1/completions`` (both with ``stream``), and ``GET /health`` (the engine's load, no key
needed). Every error is OpenAI's body ``{"error": {"message", "type", "param", "code"}}`` with a
4xx status for the client's mistakes (400 bad body or types, 401 key, 404 unknown model or route,
429 queue full) and 500 only when generation itself failed; the server stays up either way.
A request whose client goes away (a closed stream, a dropped connection) is cancelled and its
rows leave the batch.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from luacoder_eval.serve.engine import Engine, Event, SamplingParams
from luacoder_eval.serve.engine import Request as EngineRequest
from luacoder_eval.serve.schemas import ChatCompletionRequest, CompletionRequest, Sampling


@dataclass
class ServedModel:
    """What the app serves: one model under one id, and the limits it checks requests against."""

    id: str
    tokenizer: Any
    engine: Engine
    context_length: int
    default_max_tokens: int = 512
    created: int = field(default_factory=lambda: int(time.time()))


class APIError(Exception):
    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code


def error_body(message: str, type: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def _error_response(exc: APIError) -> JSONResponse:
    return JSONResponse(error_body(exc.message, exc.type, exc.param, exc.code),
                        status_code=exc.status)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None, str]:
    """OpenAI-style wording of pydantic's first complaint: (message, param, code)."""
    errors = exc.errors()
    if not errors:
        return "invalid request body", None, "invalid_request"
    first = errors[0]
    kind = first.get("type", "")
    if kind == "json_invalid":
        return ("We could not parse the JSON body of your request: "
                f"{first.get('ctx', {}).get('error', 'malformed JSON')}", None, "json_invalid")
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    # a union reports each branch ('stop', 'str'); the field is the first name
    param = None
    parts: list[str] = []
    for piece in loc:
        if piece.isdigit():
            parts.append(f"[{piece}]")
        elif piece in ("str", "list[str]", "int", "float", "bool", "list[TextPart]",
                       "constrained-int", "constrained-float") or piece.startswith(("list[", "function-")):
            break
        else:
            parts.append(("." if parts else "") + piece)
    param = "".join(parts) or None
    if kind == "missing":
        return f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    if not param:
        return "The request body must be a JSON object.", None, "invalid_request"
    got = first.get("input")
    shown = json.dumps(got)[:80] if not isinstance(got, (dict, list)) else type(got).__name__
    return f"Invalid value for '{param}': {first.get('msg', 'invalid')} (got {shown}).", param, "invalid_value"


def create_app(served: ServedModel, *, api_key: str | None = None) -> FastAPI:
    app = FastAPI(title="luacoder eval serve", version="1", docs_url=None, redoc_url=None)
    app.state.served = served

    @app.exception_handler(APIError)
    async def _api_error(_request: Request, exc: APIError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param, code = _validation_message(exc)
        return JSONResponse(error_body(message, param=param, code=code), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return JSONResponse(error_body(str(exc.detail), code=code), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _crash(_request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover
        return JSONResponse(error_body(f"internal error: {type(exc).__name__}: {exc}",
                                       type="server_error"), status_code=500)

    async def authorize(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                   api_key.encode()):
            raise APIError(401, "Incorrect API key provided. Pass it as 'Authorization: Bearer "
                                "KEY' (the key given to luacoder eval serve --api-key).",
                           code="invalid_api_key")

    def model_card() -> dict:
        return {"id": served.id, "object": "model", "created": served.created,
                "owned_by": "luacoder", "max_model_len": served.context_length}

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": served.id, **served.engine.load()}

    @app.get("/v1/models", dependencies=[Depends(authorize)])
    async def models() -> dict:
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model_id:path}", dependencies=[Depends(authorize)])
    async def model(model_id: str) -> dict:
        _check_model(served, model_id)
        return model_card()

    @app.post("/v1/chat/completions", dependencies=[Depends(authorize)])
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Any:
        _check_common(served, body)
        from luacoder_eval.textgen import GenSettings, format_prompt

        messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                    for m in body.messages]
        try:
            prompt = format_prompt(served.tokenizer, messages, GenSettings(chat=True))
        except Exception as exc:  # a template that refuses a role order, say
            raise APIError(400, f"the model's chat template cannot format these messages: "
                                f"{type(exc).__name__}: {exc}", param="messages") from exc
        ids = served.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        limit = body.max_completion_tokens or body.max_tokens
        params = _sampling(served, body, len(ids), limit,
                           "max_completion_tokens" if body.max_completion_tokens else "max_tokens")
        call = _Call(served, "chat", body)
        call.submit(ids, params, body.n)
        if body.stream:
            return _sse(call.stream_chat(request))
        return await call.collect_chat(request)

    @app.post("/v1/completions", dependencies=[Depends(authorize)])
    async def completions(body: CompletionRequest, request: Request) -> Any:
        _check_common(served, body)
        if body.echo:
            raise APIError(400, "'echo' is not supported by luacoder eval serve", param="echo")
        if body.suffix:
            raise APIError(400, "'suffix' (fill in the middle) is not supported by luacoder eval "
                                "serve", param="suffix")
        if body.best_of is not None and body.best_of != body.n:
            raise APIError(400, "'best_of' other than n is not supported", param="best_of")
        prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
        encoded = [served.tokenizer(p)["input_ids"] for p in prompts]
        params = [_sampling(served, body, len(ids), body.max_tokens, "max_tokens",
                            prompt_param="prompt", default=16)
                  for ids in encoded]
        call = _Call(served, "text", body)
        for ids, settings in zip(encoded, params):
            call.submit(ids, settings, body.n)
        if body.stream:
            return _sse(call.stream_text(request))
        return await call.collect_text(request)

    return app


def _check_model(served: ServedModel, name: str) -> None:
    if name != served.id:
        raise APIError(404, f"The model '{name}' does not exist; this server serves "
                            f"'{served.id}' (GET /v1/models).", param="model",
                       code="model_not_found")


def _check_common(served: ServedModel, body: Sampling) -> None:
    _check_model(served, body.model)
    if body.logprobs not in (None, False, 0):
        raise APIError(400, "'logprobs' is not supported by luacoder eval serve",
                       param="logprobs")


def _sampling(served: ServedModel, body: Sampling, prompt_len: int, max_tokens: int | None,
              param: str, *, prompt_param: str = "messages",
              default: int | None = None) -> SamplingParams:
    room = served.context_length - prompt_len
    if room <= 0:
        raise APIError(400, f"This model's maximum context length is {served.context_length} "
                            f"tokens, but the prompt has {prompt_len} tokens.",
                       param=prompt_param,
                       code="context_length_exceeded")
    if max_tokens is None:
        max_tokens = min(room, default or served.default_max_tokens)
    elif prompt_len + max_tokens > served.context_length:
        raise APIError(400, f"This model's maximum context length is {served.context_length} "
                            f"tokens. However, you requested {prompt_len + max_tokens} tokens "
                            f"({prompt_len} in the prompt, {max_tokens} for the completion). "
                            f"Please reduce the prompt or {param}.",
                       param=param, code="context_length_exceeded")
    return SamplingParams(max_tokens=max_tokens,
                          temperature=1.0 if body.temperature is None else float(body.temperature),
                          top_p=1.0 if body.top_p is None else float(body.top_p),
                          stop=body.stops(), seed=body.seed, ignore_eos=body.ignore_eos)


def _sse(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _data(payload: Any) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


class _Call:
    """One HTTP request's engine requests (one per prompt; choices numbered across them) and
    the queue their events arrive on."""

    def __init__(self, served: ServedModel, kind: str, body: Sampling) -> None:
        self.served = served
        self.kind = kind
        self.body = body
        self.id = ("chatcmpl-" if kind == "chat" else "cmpl-") + uuid.uuid4().hex[:24]
        self.created = int(time.time())
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.requests: list[EngineRequest] = []
        self.choices = 0
        self.prompt_tokens = 0

    def submit(self, ids: list[int], params: SamplingParams, n: int) -> None:
        offset = self.choices
        loop, queue = self.loop, self.queue

        def sink(event: Event) -> None:
            event.index += offset
            loop.call_soon_threadsafe(queue.put_nowait, event)

        request = EngineRequest(ids, params, n, sink)
        if not self.served.engine.submit(request):
            self.cancel()
            raise APIError(429, "The server is busy (its queue is full); retry shortly.",
                           type="rate_limit_error", code="queue_full")
        self.requests.append(request)
        self.choices += n
        self.prompt_tokens += len(ids)

    def cancel(self) -> None:
        for request in self.requests:
            request.cancel()

    def usage(self, tokens: list[int]) -> dict:
        completion = sum(tokens)
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": completion,
                "total_tokens": self.prompt_tokens + completion}

    async def _batches(self, http: Request) -> AsyncIterator[list[Event]]:
        """Events until every choice has finished, as lists of what has arrived (a slow client
        gets fewer, larger chunks instead of falling behind); stops, cancelling, when the
        client has left."""
        open_choices = self.choices
        checked = time.monotonic()
        while open_choices:
            try:
                first = await asyncio.wait_for(self.queue.get(), timeout=0.5)
            except asyncio.TimeoutError:
                first = None
            if first is None or time.monotonic() - checked > 0.5:
                checked = time.monotonic()
                if await http.is_disconnected():
                    self.cancel()
                    return
                if first is None:
                    continue
            events = [first]
            while not self.queue.empty():
                events.append(self.queue.get_nowait())
            merged: list[Event] = []
            for event in events:
                if event.kind == "error":
                    raise APIError(500, event.text, type="server_error",
                                   code="generation_failed")
                if event.kind == "finish":
                    open_choices -= 1
                last = merged[-1] if merged else None
                if (event.kind == "delta" and last is not None and last.kind == "delta"
                        and last.index == event.index):
                    last.text += event.text
                else:
                    merged.append(event)
            yield merged

    async def _collect(self, http: Request) -> tuple[list[str], list[str | None], list[int]]:
        texts = [""] * self.choices
        reasons: list[str | None] = [None] * self.choices
        tokens = [0] * self.choices
        try:
            async for events in self._batches(http):
                for event in events:
                    if event.kind == "delta":
                        texts[event.index] += event.text
                    else:
                        reasons[event.index], tokens[event.index] = event.reason, event.tokens
        finally:
            self.cancel()  # a no-op when all finished; frees the rows when the client left
        return texts, reasons, tokens

    def _head(self, obj: str) -> dict:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.served.id,
                "system_fingerprint": None}

    async def collect_chat(self, http: Request) -> JSONResponse:
        texts, reasons, tokens = await self._collect(http)
        choices = [{"index": i, "message": {"role": "assistant", "content": text},
                    "finish_reason": reasons[i], "logprobs": None}
                   for i, text in enumerate(texts)]
        return JSONResponse({**self._head("chat.completion"), "choices": choices,
                             "usage": self.usage(tokens)})

    async def collect_text(self, http: Request) -> JSONResponse:
        texts, reasons, tokens = await self._collect(http)
        choices = [{"index": i, "text": text, "finish_reason": reasons[i], "logprobs": None}
                   for i, text in enumerate(texts)]
        return JSONResponse({**self._head("text_completion"), "choices": choices,
                             "usage": self.usage(tokens)})

    def _include_usage(self) -> bool:
        return bool(self.body.stream_options and self.body.stream_options.include_usage)

    def stream_chat(self, http: Request) -> AsyncIterator[str]:
        opening = [{"index": i, "delta": {"role": "assistant", "content": ""},
                    "finish_reason": None, "logprobs": None} for i in range(self.choices)]
        return self._stream(http, "chat.completion.chunk", opening,
                            lambda text, final: {"delta": {} if final else {"content": text}})

    def stream_text(self, http: Request) -> AsyncIterator[str]:
        return self._stream(http, "text_completion", [], lambda text, final: {"text": text})

    async def _stream(self, http: Request, kind: str, opening: list[dict],
                      content: Callable[[str, bool], dict]) -> AsyncIterator[str]:
        """Server-sent events of one request: ``opening`` chunks, then each batch's deltas and
        finish reasons (``content`` shapes a choice's text for chat or text completions), the
        usage if asked, ``[DONE]``; an error mid-stream becomes an error event. The request's
        slot is freed however the stream ends (a client that went away included)."""
        head = self._head(kind)
        tokens = [0] * self.choices
        try:
            for choice in opening:
                yield _data({**head, "choices": [choice]})
            async for events in self._batches(http):
                out = []
                for event in events:
                    if event.kind == "delta":
                        choice = {"index": event.index, **content(event.text, False),
                                  "finish_reason": None, "logprobs": None}
                    else:
                        tokens[event.index] = event.tokens
                        choice = {"index": event.index, **content("", True),
                                  "finish_reason": event.reason, "logprobs": None}
                    out.append(_data({**head, "choices": [choice]}))
                yield "".join(out)
            if self._include_usage():
                yield _data({**head, "choices": [], "usage": self.usage(tokens)})
            yield "data: [DONE]\n\n"
        except APIError as exc:
            yield _data(error_body(exc.message, exc.type, exc.param, exc.code))
            yield "data: [DONE]\n\n"
        finally:
            self.cancel()
