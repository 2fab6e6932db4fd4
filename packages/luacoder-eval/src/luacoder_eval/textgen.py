"""Batched generation with transformers: left padding, chat templates, stop sequences, seeds.

Decoder-only models continue the last token of each row, so batches are padded on the left
(right padding breaks batched outputs: NOTES-cpu.md §5). Prompts are sorted by length before
batching (less padding) and the outputs put back in order. Sampling is seeded once per call, so a
rerun with the same settings gives the same text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GenSettings:
    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    num_samples: int = 1
    batch_size: int = 16
    stop: list[str] = field(default_factory=list)
    seed: int = 0
    #: format prompts with the tokenizer's chat template (report type ``markdown``)
    chat: bool = False
    system_prompt: str | None = None
    #: force at least this many new tokens (fixed shapes for benchmarks); None: stop at eos
    min_new_tokens: int | None = None


@dataclass
class GenOutput:
    """``texts[i]`` holds the ``num_samples`` outputs of prompt ``i``."""

    texts: list[list[str]]
    new_tokens: int = 0
    seconds: float = 0.0


def cut_at_stop(text: str, stops: list[str] | tuple[str, ...]) -> str:
    end = len(text)
    for stop in stops or ():
        if stop:
            at = text.find(stop)
            if 0 <= at < end:
                end = at
    return text[:end]


def format_prompt(tokenizer: Any, prompt: str | list[dict], settings: GenSettings) -> str:
    """The text fed to the model: raw for code continuation, the chat template for chat."""
    if not settings.chat:
        return prompt if isinstance(prompt, str) else "\n".join(m.get("content", "") for m in prompt)
    if isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
    else:
        messages = list(prompt)
    if settings.system_prompt and not any(m.get("role") == "system" for m in messages):
        messages = [{"role": "system", "content": settings.system_prompt}, *messages]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    # no template: a plain transcript the model can continue
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join(lines) + "\nassistant:"


def _stop_criteria(tokenizer: Any, stops: list[str], prompt_len: int) -> Any:
    """Per-sequence stopping on any stop string in the newly generated text."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    window = 4 * max(len(s) for s in stops) + 4

    class StopOnStrings(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            new = input_ids[:, prompt_len:]
            tails = tokenizer.batch_decode(new[:, -window:], skip_special_tokens=True)
            done = [any(s in tail for s in stops) for tail in tails]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopOnStrings()])


def generate(model: Any, tokenizer: Any, prompts: list[Any], settings: GenSettings,
             progress: Callable[[int, int], None] | None = None) -> GenOutput:
    """Generate ``settings.num_samples`` outputs for every prompt, ``batch_size`` rows at a
    time."""
    import torch

    start = time.monotonic()
    tokenizer.padding_side = "left"
    texts = [format_prompt(tokenizer, p, settings) for p in prompts]
    rows = [i for i in range(len(texts)) for _ in range(max(1, settings.num_samples))]
    lengths = {i: len(tokenizer(texts[i], add_special_tokens=not settings.chat)["input_ids"])
               for i in range(len(texts))}
    order = sorted(range(len(rows)), key=lambda r: (lengths[rows[r]], r))
    outputs: list[str] = [""] * len(rows)
    new_tokens = 0
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    eos_id = getattr(model.generation_config, "eos_token_id", None)
    if eos_id is None:
        eos_id = tokenizer.eos_token_id
    do_sample = settings.temperature > 0
    torch.manual_seed(settings.seed)
    batch = max(1, settings.batch_size)
    device = next(model.parameters()).device
    for b in range(0, len(order), batch):
        chunk = order[b: b + batch]
        enc = tokenizer([texts[rows[r]] for r in chunk], return_tensors="pt", padding=True,
                        add_special_tokens=not settings.chat).to(device)
        prompt_len = enc["input_ids"].shape[1]
        kwargs: dict[str, Any] = dict(max_new_tokens=settings.max_new_tokens, do_sample=do_sample,
                                      pad_token_id=pad_id, eos_token_id=eos_id)
        if settings.min_new_tokens:
            kwargs["min_new_tokens"] = settings.min_new_tokens
        if do_sample:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if settings.stop:
            kwargs["stopping_criteria"] = _stop_criteria(tokenizer, settings.stop, prompt_len)
        with torch.inference_mode():
            out = model.generate(**enc, **kwargs)
        new = out[:, prompt_len:]
        if pad_id is not None:
            new_tokens += int((new != pad_id).sum())
        else:
            new_tokens += new.numel()
        decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
        for r, text in zip(chunk, decoded):
            outputs[r] = cut_at_stop(text, settings.stop)
        if progress is not None:
            progress(min(b + batch, len(order)), len(order))
    per_prompt: list[list[str]] = [[] for _ in texts]
    for r, i in enumerate(rows):
        per_prompt[i].append(outputs[r])
    return GenOutput(per_prompt, new_tokens, time.monotonic() - start)


def generate_vllm(model_path: str, prompts: list[Any], settings: GenSettings,
                  adapter: str | None = None, tokenizer: Any = None) -> GenOutput:
    """The same with vLLM (``backend: vllm``), when it is installed; adapters as LoRA
    requests."""
    try:
        from vllm import LLM, SamplingParams
    except ImportError as exc:  # pragma: no cover - vllm is not installed on CPU machines
        from luacoder_core.errors import InputError

        raise InputError("backend 'vllm' needs vLLM: pip install 'luacoder-eval[vllm]'",
                         key="backend") from exc
    start = time.monotonic()  # pragma: no cover
    llm = LLM(model=model_path, enable_lora=adapter is not None, seed=settings.seed)
    tok = tokenizer or llm.get_tokenizer()
    texts = [format_prompt(tok, p, settings) for p in prompts]
    params = SamplingParams(n=settings.num_samples, temperature=settings.temperature,
                            top_p=settings.top_p, max_tokens=settings.max_new_tokens,
                            stop=settings.stop or None, seed=settings.seed)
    lora = None
    if adapter is not None:
        from vllm.lora.request import LoRARequest

        lora = LoRARequest("adapter", 1, adapter)
    results = llm.generate(texts, params, lora_request=lora)
    per_prompt = [[cut_at_stop(o.text, settings.stop) for o in r.outputs] for r in results]
    tokens = sum(len(o.token_ids) for r in results for o in r.outputs)
    return GenOutput(per_prompt, tokens, time.monotonic() - start)
