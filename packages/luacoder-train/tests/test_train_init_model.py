"""``luacoder train init-model``: an offline random model and tokenizer that reload as such."""

from __future__ import annotations

import json


def test_init_model_tiny_from_lua_and_records(tmp_path, corpus_dir, data_dir, run_cli):
    out = tmp_path / "tiny"
    result = run_cli("train", "init-model", out, "--corpus", corpus_dir,
                     "--corpus", data_dir / "chat.jsonl", "--preset", "tiny", "--seed", "3")
    assert "init-model: tiny model with" in result.output

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert type(tok).__name__ in ("TokenizersBackend", "PreTrainedTokenizerFast")
    assert model.config.model_type == "llama" and model.config.tie_word_embeddings
    assert model.config.hidden_size == 64 and model.config.num_hidden_layers == 2
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|pad|>"
    vocab = tok.get_vocab()
    for special in ("<|endoftext|>", "<|im_start|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>"):
        assert special in vocab
    assert "{% generation %}" in tok.chat_template
    # byte-level: any text round-trips, nothing is unknown
    text = "local s = 'héllo → 世界' -- ✓\n\tprint(s)"
    assert tok.decode(tok(text)["input_ids"]) == text
    # a word from the corpus is a single token or close to it: the BPE learned from our files
    assert len(tok("function")["input_ids"]) <= 2
    meta = json.loads((out / "luacoder.json").read_text())
    assert meta["preset"] == "tiny" and meta["seed"] == 3
    assert meta["parameters"] == sum(p.numel() for p in model.parameters())


def test_init_model_is_seeded(tmp_path, corpus_dir, run_cli):
    from safetensors.torch import load_file

    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        run_cli("train", "init-model", tmp_path / name, "--corpus", corpus_dir, "--seed", seed)
    a, b, c = (load_file(str(tmp_path / n / "model.safetensors")) for n in "abc")
    assert all((a[k] == b[k]).all() for k in a)
    assert any((a[k] != c[k]).any() for k in a)
    assert (tmp_path / "a" / "tokenizer.json").read_text() == (tmp_path / "b" / "tokenizer.json").read_text()


def test_init_model_errors(tmp_path, corpus_dir, run_cli):
    result = run_cli("train", "init-model", tmp_path / "x", "--corpus", tmp_path / "missing.lua", expect=2)
    assert "corpus file not found" in result.output and "missing.lua" in result.output
    result = run_cli("train", "init-model", tmp_path / "x", "--corpus", corpus_dir, "--preset", "huge",
                     expect=2)
    assert "huge" in result.output


def test_demo_preset_size(tmp_path, corpus_dir, run_cli):
    """The quickstart's preset: about a million parameters (what its timings assume)."""
    run_cli("train", "init-model", tmp_path / "demo", "--corpus", corpus_dir, "--preset", "demo")
    meta = json.loads((tmp_path / "demo" / "luacoder.json").read_text())
    assert meta["preset"] == "demo" and 500_000 < meta["parameters"] < 1_500_000
