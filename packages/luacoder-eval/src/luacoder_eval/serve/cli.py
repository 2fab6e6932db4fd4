"""The ``luacoder eval serve`` click command (click only; the server is imported when it runs)."""

from __future__ import annotations

import os

import click


def add_serve_command(group: click.Group, context_settings: dict) -> None:
    @group.command("serve", context_settings=context_settings)
    @click.argument("model_dir", metavar="MODEL_DIR")
    @click.option("--host", default="127.0.0.1", show_default=True,
                  help="Address to listen on (0.0.0.0: every interface; set --api-key then).")
    @click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
                  help="Port (0: any free port, printed at start).")
    @click.option("--api-key", default=None, metavar="KEY",
                  help="Require 'Authorization: Bearer KEY' (default: $LUACODER_API_KEY; none).")
    @click.option("--served-model-name", default=None, metavar="NAME",
                  help="The model id clients use (default: the model folder's name).")
    @click.option("--max-batch", type=click.IntRange(1), default=16, show_default=True,
                  help="Most sequences decoded together (a request with n=3 takes three).")
    @click.option("--batch-wait-ms", type=click.FloatRange(0), default=5.0, show_default=True,
                  help="How long an idle server waits for more requests to batch with the first.")
    @click.option("--max-queue", type=click.IntRange(1), default=1024, show_default=True,
                  help="Waiting requests beyond this get 429.")
    @click.option("--max-model-len", type=click.IntRange(16), default=None,
                  help="Context length (prompt + completion); default: the model's.")
    @click.option("--default-max-tokens", type=click.IntRange(1), default=512, show_default=True,
                  help="Completion length of a chat request that gives no max_tokens.")
    @click.option("--base-model", default=None, help="Base model of an adapter folder (default: "
                  "from luacoder.json or adapter_config.json).")
    @click.option("--dtype", default=None, help="float32, bfloat16, float16 or auto.")
    @click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, mps...")
    @click.option("--threads", type=click.IntRange(1), default=None, help="Torch CPU threads.")
    @click.option("--backend", type=click.Choice(["auto", "transformers", "vllm"]), default="auto",
                  show_default=True,
                  help="auto: vLLM's own server where vLLM is installed, else transformers.")
    @click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
                  default="info", show_default=True)
    def serve_cmd(model_dir: str, **options) -> None:
        """Serve MODEL_DIR behind an OpenAI-compatible API: /v1/chat/completions (through the
        model's chat template), /v1/completions, /v1/models; streaming, n, stop, seed.

        MODEL_DIR is a base model, a full checkpoint, a PEFT adapter folder, or a sweep's output
        folder (luacoder eval run), which serves its best checkpoint. Concurrent requests are
        decoded together (continuous batching).
        """
        from luacoder_eval.serve.server import ServeOptions, serve

        if options["api_key"] is None:
            options["api_key"] = os.environ.get("LUACODER_API_KEY") or None
        code = serve(model_dir, ServeOptions(**options),
                     echo=lambda line: click.echo(line, err=True))
        if code:
            raise SystemExit(code)
