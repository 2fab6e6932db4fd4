"""Finding, checking and loading models: a base model folder, a full checkpoint, or a PEFT adapter.

A folder with ``adapter_config.json`` is a PEFT adapter: its base model (``--base-model`` /
``base_model``, else ``luacoder.json``'s ``base_model``, else the adapter's
``base_model_name_or_path``) is loaded once and shared by every adapter of a sweep; each adapter
is put on top with ``PeftModel.from_pretrained`` and taken off again with ``unload()``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luacoder_core.errors import InputError

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
STEP_RE = re.compile(r"^checkpoint-(\d+)$")


def read_json(path: Path) -> dict | None:
    """A JSON object from ``path``; None when missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_adapter(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def has_tokenizer(path: str | Path) -> bool:
    return any((Path(path) / name).is_file() for name in TOKENIZER_FILES)


def model_problem(path: str | Path) -> str | None:
    """Why ``path`` is not a loadable model folder (half written, not a model), or None."""
    path = Path(path)
    if not path.is_dir():
        return "not a folder"
    meta = path / "luacoder.json"
    if meta.exists() and read_json(meta) is None:
        return "luacoder.json is not a JSON object (half written?)"
    if (path / "adapter_config.json").is_file():
        if read_json(path / "adapter_config.json") is None:
            return "adapter_config.json is not a JSON object (half written?)"
        weights = [path / w for w in ADAPTER_WEIGHTS if (path / w).is_file()]
        if not weights:
            return "adapter_config.json but no adapter_model.safetensors/.bin (half written?)"
        if all(w.stat().st_size == 0 for w in weights):
            return "adapter weights are empty (half written?)"
        return None
    if not (path / "config.json").is_file():
        return "no config.json or adapter_config.json (not a model folder)"
    if read_json(path / "config.json") is None:
        return "config.json is not a JSON object (half written?)"
    for index_name in INDEX_FILES:
        index = path / index_name
        if index.is_file():
            data = read_json(index)
            if data is None or not isinstance(data.get("weight_map"), dict):
                return f"{index_name} is not a valid shard index (half written?)"
            missing = sorted({f for f in data["weight_map"].values() if not (path / f).is_file()})
            if missing:
                return f"missing weight shards {', '.join(missing[:3])} (half written?)"
            return None
    weights = [path / w for w in WEIGHT_FILES if (path / w).is_file()]
    if not weights:
        return "config.json but no model weights (half written?)"
    if all(w.stat().st_size == 0 for w in weights):
        return "model weights are empty (half written?)"
    return None


def luacoder_meta(path: str | Path) -> dict:
    return read_json(Path(path) / "luacoder.json") or {}


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    path: str
    adapter: bool = False
    base: str | None = None
    _peft: Any = field(default=None, repr=False)


class ModelLoader:
    """Loads models for generation; base models of adapters are loaded once and reused."""

    def __init__(self, base_model: str | None = None, dtype: str | None = None,
                 device: str = "cpu") -> None:
        self.base_model = base_model
        self.dtype = dtype
        self.device = device
        self._bases: dict[str, tuple[Any, Any]] = {}

    def _torch_dtype(self) -> Any:
        if self.dtype in (None, "auto"):
            return "auto" if self.dtype == "auto" else None
        import torch

        try:
            return getattr(torch, self.dtype)
        except AttributeError:
            raise InputError(f"unknown dtype '{self.dtype}' (float32, bfloat16, float16, auto)",
                             key="dtype") from None

    def _from_pretrained(self, path: str) -> Any:
        from transformers import AutoModelForCausalLM

        kwargs: dict[str, Any] = {}
        dtype = self._torch_dtype()
        if dtype is not None:
            kwargs["dtype"] = dtype
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        model.to(self.device)
        model.eval()
        return model

    def _tokenizer(self, *paths: str | None) -> Any:
        from transformers import AutoTokenizer

        for path in paths:
            if path and (not Path(path).exists() or has_tokenizer(path)):
                return prepare_tokenizer(AutoTokenizer.from_pretrained(path))
        raise InputError(f"no tokenizer files in {', '.join(p for p in paths if p)}")

    def base_for(self, adapter_path: str | Path) -> str:
        if self.base_model:
            return self.base_model
        meta = luacoder_meta(adapter_path)
        if isinstance(meta.get("base_model"), str) and meta["base_model"]:
            return meta["base_model"]
        config = read_json(Path(adapter_path) / "adapter_config.json") or {}
        base = config.get("base_model_name_or_path")
        if not base:
            raise InputError("adapter has no base_model_name_or_path; set base_model",
                             file=str(Path(adapter_path) / "adapter_config.json"))
        return base

    def base(self, path: str) -> tuple[Any, Any]:
        """The (model, tokenizer) of a base model, loaded on first use only."""
        if path not in self._bases:
            self._bases[path] = (self._from_pretrained(path), self._tokenizer(path))
        return self._bases[path]

    def load(self, path: str | Path) -> LoadedModel:
        path = str(path)
        if is_adapter(path):
            from peft import PeftModel

            base_path = self.base_for(path)
            base_model, base_tok = self.base(base_path)
            peft_model = PeftModel.from_pretrained(base_model, path)
            peft_model.eval()
            tokenizer = self._tokenizer(path) if has_tokenizer(path) else base_tok
            return LoadedModel(peft_model, tokenizer, path, True, base_path, peft_model)
        fallback = self.base_model if self.base_model and Path(self.base_model).exists() else None
        tokenizer = self._tokenizer(path, fallback)
        return LoadedModel(self._from_pretrained(path), tokenizer, path)

    def release(self, loaded: LoadedModel) -> None:
        """Take an adapter off its shared base model (the base stays loaded for the next one)."""
        if loaded._peft is not None:
            loaded._peft.unload()
            loaded._peft = None
        loaded.model = None


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Left padding (decoder-only batching) and a pad token (eos, else unk, else id 0)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        elif getattr(tokenizer, "unk_token", None) is not None:
            tokenizer.pad_token = tokenizer.unk_token
    return tokenizer
