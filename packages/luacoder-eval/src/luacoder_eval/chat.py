"""``luacoder eval chat``: an interactive chat through the model's chat template, streamed."""

from __future__ import annotations

from typing import Any, TextIO

import click

HELP = "Type a message; /reset starts a new conversation, /exit quits."


def chat_loop(model: Any, tokenizer: Any, *, system_prompt: str | None = None,
              max_new_tokens: int = 256, temperature: float = 0.0, top_p: float = 1.0,
              seed: int = 0, stdin: TextIO) -> None:
    """Read user turns from ``stdin`` until ``/exit`` or end of input; stream each answer."""
    import threading

    import torch
    from transformers import TextIteratorStreamer

    from luacoder_eval.textgen import GenSettings, format_prompt

    settings = GenSettings(chat=True, system_prompt=system_prompt)
    history: list[dict] = []
    torch.manual_seed(seed)
    click.echo(HELP)
    while True:
        click.echo("you> ", nl=False)
        line = stdin.readline()
        if not line:
            click.echo("")
            break
        text = line.strip()
        if not text:
            continue
        if text == "/exit":
            break
        if text == "/reset":
            history = []
            click.echo("(conversation reset)")
            continue
        history.append({"role": "user", "content": text})
        prompt = format_prompt(tokenizer, history, settings)
        enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        enc = enc.to(next(model.parameters()).device)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs: dict[str, Any] = dict(**enc, max_new_tokens=max_new_tokens, streamer=streamer,
                                      pad_token_id=tokenizer.pad_token_id,
                                      do_sample=temperature > 0)
        if temperature > 0:
            kwargs.update(temperature=temperature, top_p=top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        errors: list[BaseException] = []

        def run(kwargs=kwargs, errors=errors, streamer=streamer) -> None:
            try:
                with torch.inference_mode():
                    model.generate(**kwargs)
            except BaseException as exc:  # shown to the user below, the chat goes on
                errors.append(exc)
                streamer.on_finalized_text("", stream_end=True)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        click.echo("assistant> ", nl=False)
        parts: list[str] = []
        for piece in streamer:
            parts.append(piece)
            click.echo(piece, nl=False)
        thread.join()
        click.echo("")
        if errors:
            click.echo(f"(generation failed: {errors[0]})", err=True)
            history.pop()
            continue
        history.append({"role": "assistant", "content": "".join(parts)})
