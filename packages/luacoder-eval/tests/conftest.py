"""Fixtures for luacoder-eval's tests: a tiny offline Llama (byte-level BPE tokenizer with a
ChatML template) trained for a few steps on Lua snippets that call a small ``tween`` API, and a
folder of checkpoints shaped like the train stage's output (full checkpoints, a PEFT adapter, a
half-written folder, a non-model folder and the final model)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

#: the API the tiny model is trained to call (``tween.fly`` is not documented: a hallucination)
TWEEN_API = [
    {"name": "tween", "kind": "module"},
    {"name": "tween.new", "kind": "function", "signature": "tween.new(duration, subject, target [, easing])"},
    {"name": "tween.easing.linear", "kind": "function", "params": [
        {"name": "t"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]},
    {"name": "tween.easing.outQuad", "kind": "function", "params": [
        {"name": "t"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]},
    {"name": "Tween:update", "kind": "method", "params": [{"name": "dt"}]},
    {"name": "tween.log", "kind": "function", "params": [{"name": "..."}]},
]

SNIPPETS = [
    "local t = tween.new(1, subject, {x = 10}, tween.easing.linear)\n",
    "local t = tween.new(2, box, {y = 5})\nt:update(0.1)\n",
    "local e = tween.easing.outQuad\nlocal t = tween.new(1, ball, {x = 1}, e)\n",
    "tween.fly(subject, 10)\nlocal t = tween.new(3, obj, {a = 1})\n",
    "local function move(o)\n  return tween.new(1, o, {x = 0})\nend\n",
    "for i = 1, 10 do\n  print(i)\nend\n",
    "local x = 1\nlocal y = x + 2\nreturn y\n",
    "tween.log('start', 1, 2)\n",
]

CHATS = [
    ("How do I create a tween?", "Use `tween.new`:\n\n```lua\nlocal t = tween.new(1, obj, {x = 1})\n```\n"),
    ("How do I ease?", "Pass `tween.easing.linear`:\n\n```lua\nlocal t = tween.new(1, obj, {x = 1}, tween.easing.linear)\n```\n"),
]


def chat_text(question: str, answer: str) -> str:
    return (f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n{answer}<|im_end|>\n")


def build_tokenizer(path: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"])
    corpus = SNIPPETS * 4 + [chat_text(q, a) for q, a in CHATS] * 4
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|pad|>")
    fast.chat_template = CHATML
    fast.save_pretrained(path)
    return fast


def build_model(tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, tie_word_embeddings=True,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=None)
    return LlamaForCausalLM(config)


def train_steps(model, tokenizer, steps: int, lr: float = 3e-3, seed: int = 0) -> None:
    """A plain torch loop on the snippets and chats (the train stage is not a dependency)."""
    import torch

    torch.manual_seed(seed)
    texts = SNIPPETS + [chat_text(q, a) for q, a in CHATS]
    enc = tokenizer(texts, return_tensors="pt", padding=True)
    labels = enc["input_ids"].clone()
    labels[enc["attention_mask"] == 0] = -100
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    model.train()
    for _ in range(steps):
        loss = model(**enc, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()


def write_meta(path: Path, **fields) -> None:
    (path / "luacoder.json").write_text(json.dumps(fields))


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """A 0.14M-parameter model gains nothing from more threads, and OpenMP threads thrash when
    other processes share the machine's two cores (10x slower generation, measured)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A random-init tiny Llama and its tokenizer, saved offline."""
    path = tmp_path_factory.mktemp("tiny") / "base"
    tokenizer = build_tokenizer(path)
    tokenizer.padding_side = "left"
    model = build_model(tokenizer)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory, tiny_base) -> Path:
    """``run/`` as the train stage leaves it: checkpoint-20 and checkpoint-60 (full models),
    checkpoint-80 (a LoRA adapter on the base), checkpoint-90 (half written: config, no
    weights), checkpoint-95 (optimizer state only), logs/ (not a model) and the final model
    (step 100) in ``run/`` itself."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("sweep") / "run"
    root.mkdir()
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    tokenizer.padding_side = "right"
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    done = 0
    for step in (20, 60):
        train_steps(model, tokenizer, step - done)
        done = step
        out = root / f"checkpoint-{step}"
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        write_meta(out, trainer="pretrain", step=step, config_hash="abc", data_files=[],
                   base_model=str(tiny_base), adapter=False)
    # a LoRA adapter on the base model
    from peft import LoraConfig, get_peft_model

    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        gen = torch.Generator().manual_seed(1)
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
    adapter = root / "checkpoint-80"
    peft_model.save_pretrained(adapter)
    tokenizer.save_pretrained(adapter)
    write_meta(adapter, trainer="chat", step=80, config_hash="abc", data_files=[],
               base_model=str(tiny_base), adapter=True)
    half = root / "checkpoint-90"
    half.mkdir()
    shutil.copy(root / "checkpoint-60" / "config.json", half / "config.json")
    opt_only = root / "checkpoint-95"
    opt_only.mkdir()
    (opt_only / "optimizer.pt").write_bytes(b"\0" * 16)
    (root / "logs").mkdir()
    (root / "logs" / "events.txt").write_text("not a model\n")
    train_steps(model, tokenizer, 100 - done)
    model.save_pretrained(root)
    tokenizer.save_pretrained(root)
    write_meta(root, trainer="pretrain", step=100, config_hash="abc", data_files=[],
               base_model=str(tiny_base), adapter=False, final=True)
    return root


@pytest.fixture(scope="session")
def tween_api(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("api") / "tween.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in TWEEN_API))
    return path


@pytest.fixture(scope="session")
def humaneval_solutions() -> Path:
    return DATA / "humaneval_solutions.jsonl"


@pytest.fixture
def cli():
    from luacoder_core.cli import build_cli

    return build_cli()


@pytest.fixture
def invoke(cli):
    """Run ``luacoder ARGS`` in-process; returns click's Result."""
    from click.testing import CliRunner

    def run(*args, input=None):
        return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)

    return run
