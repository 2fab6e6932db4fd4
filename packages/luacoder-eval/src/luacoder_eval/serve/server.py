"""Starting ``luacoder eval serve``: which model folder, which backend, and the HTTP server.

``MODEL_DIR`` is a base model, a full checkpoint, a PEFT adapter folder (its base is loaded
first, as everywhere in eval) or the output folder of a sweep (``luacoder eval run``), whose
``results.json`` names the best checkpoint. The transformers backend is this package's engine
(:mod:`.engine`) behind FastAPI/uvicorn; the vLLM backend hands the same folder to vLLM's own
OpenAI server where vLLM is installed.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luacoder_core.errors import InputError

from luacoder_eval.models import is_adapter, model_problem, read_json


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    served_model_name: str | None = None
    max_batch: int = 16
    batch_wait_ms: float = 5.0
    max_queue: int = 1024
    max_model_len: int | None = None
    default_max_tokens: int = 512
    base_model: str | None = None
    dtype: str | None = None
    device: str = "cpu"
    threads: int | None = None
    backend: str = "auto"
    log_level: str = "info"


def resolve_model_dir(model_dir: str) -> tuple[str, str | None]:
    """The model folder to serve and, for a sweep's output folder, a line saying which
    checkpoint was picked and why."""
    path = Path(model_dir)
    results = path / "results.json"
    if not path.is_dir() or not results.is_file() or model_problem(path) is None:
        return model_dir, None
    data = read_json(results)
    if data is None or not isinstance(data.get("rows"), list):
        raise InputError("not a sweep's results.json (no 'rows' list)", file=str(results))
    best = data.get("best")
    if not best:
        raise InputError("the sweep picked no best checkpoint (no row has a value for "
                         f"{data.get('metric')!r}); serve a checkpoint folder instead",
                         file=str(results))
    row = next((r for r in data["rows"] if isinstance(r, dict) and r.get("checkpoint") == best),
               None)
    if row is None or not isinstance(row.get("path"), str):
        raise InputError(f"the best checkpoint '{best}' has no row with a path", file=str(results))
    metric = data.get("metric")
    value = row.get(metric) if metric else None
    note = f"best checkpoint of the sweep in {model_dir}: {best}"
    if value is not None:
        note += f" ({metric}={value:.4f})" if isinstance(value, float) else f" ({metric}={value})"
    return row["path"], note


def context_length(model: Any, tokenizer: Any, cap: int | None) -> int:
    config = getattr(model, "config", None)
    length = None
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            length = value
            break
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 10_000_000:
        length = min(length, tok_max) if length else tok_max
    length = length or 2048
    return min(length, cap) if cap else length


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def pick_backend(requested: str) -> tuple[str, str]:
    """(backend, why) for ``auto``, ``transformers`` or ``vllm``."""
    if requested == "transformers":
        return "transformers", "transformers backend (asked for)"
    if requested == "vllm":
        if not vllm_installed():
            raise InputError("--backend vllm needs vLLM, which is not installed here: pip install "
                             "'luacoder-eval[vllm]' on a machine with a supported GPU",
                             key="backend")
        return "vllm", "vLLM backend (asked for)"
    if vllm_installed():
        return "vllm", "vLLM backend (vLLM is installed)"
    return "transformers", "transformers backend (vLLM is not installed)"


def vllm_command(model_path: str, name: str, options: ServeOptions, *,
                 base_model: str | None = None) -> list[str]:
    """vLLM's own OpenAI server for the same model: an adapter is served as a LoRA module
    named ``name`` on its base model."""
    argv = [sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--host", options.host, "--port", str(options.port),
            "--max-num-seqs", str(options.max_batch)]
    if base_model is not None:
        argv += ["--model", base_model, "--enable-lora", "--lora-modules", f"{name}={model_path}"]
    else:
        argv += ["--model", model_path, "--served-model-name", name]
    if options.api_key:
        argv += ["--api-key", options.api_key]
    if options.max_model_len:
        argv += ["--max-model-len", str(options.max_model_len)]
    if options.dtype:
        argv += ["--dtype", options.dtype]
    return argv


def serve(model_dir: str, options: ServeOptions, echo: Any = print) -> int:
    """Serve ``model_dir`` until interrupted; returns the exit code."""
    path, note = resolve_model_dir(model_dir)
    if note:
        echo(note)
    local = Path(path)
    if local.exists():
        problem = model_problem(local)
        if problem is not None:
            raise InputError(f"cannot serve this model: {problem}", file=path)
    name = options.served_model_name or (local.resolve().name if local.exists() else path)
    backend, why = pick_backend(options.backend)
    echo(f"serve: {why}")
    if backend == "vllm":  # pragma: no cover - vLLM is not installed on CPU machines
        from luacoder_eval.models import ModelLoader

        base = ModelLoader(options.base_model).base_for(path) if is_adapter(path) else None
        argv = vllm_command(path, name, options, base_model=base)
        echo("serve: " + " ".join(argv))
        return subprocess.call(argv)
    return _serve_transformers(path, name, options, echo)


def _serve_transformers(path: str, name: str, options: ServeOptions, echo: Any) -> int:
    if options.threads:
        import torch

        torch.set_num_threads(options.threads)
    try:
        import uvicorn

        from luacoder_eval.serve.app import ServedModel, create_app
    except ImportError as exc:
        raise InputError(f"eval serve needs FastAPI and uvicorn ({exc.name} is missing): "
                         "pip install 'luacoder-eval[serve]'") from exc
    from luacoder_eval.models import ModelLoader
    from luacoder_eval.serve.engine import Engine

    sock = _bind(options.host, options.port)
    loader = ModelLoader(options.base_model, options.dtype, options.device)
    try:
        loaded = loader.load(path)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot load this model: {type(exc).__name__}: {exc}", file=path) from exc
    engine = Engine(loaded.model, loaded.tokenizer, max_batch=options.max_batch,
                    batch_wait_s=options.batch_wait_ms / 1000, max_queue=options.max_queue)
    ctx = context_length(loaded.model, loaded.tokenizer, options.max_model_len)
    served = ServedModel(name, loaded.tokenizer, engine, ctx,
                         default_max_tokens=options.default_max_tokens)
    app = create_app(served, api_key=options.api_key)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    echo(f"serve: '{name}' from {path}" + (f" (adapter on {loaded.base})" if loaded.adapter else "")
         + f", context {ctx} tokens, batches of up to {options.max_batch}")
    echo(f"serve: OpenAI API at http://{shown}:{port}/v1"
         + (" (API key required)" if options.api_key else "") + "  (Ctrl-C stops)")
    if options.host not in ("127.0.0.1", "localhost", "::1") and not options.api_key:
        echo("serve: warning: listening beyond this machine without --api-key")
    logging.getLogger("luacoder.serve").setLevel(options.log_level.upper())
    config = uvicorn.Config(app, log_level=options.log_level, timeout_graceful_shutdown=5)
    engine.start()
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        engine.stop()
        sock.close()
    return 0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if os.name != "nt":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         key="port") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
