"""Settings a recipe can hold that this machine cannot honour, named before anything loads.

Each check either falls back to something equivalent with a warning (flash attention -> sdpa,
bf16/fp16 mixed precision -> float32 on a machine without a CUDA GPU) or adds a problem naming
the key and what to do; all problems are raised together (exit 2), so a recipe never ends in a
traceback for a setting it holds.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from luacoder_core.config import closest

#: report_to name -> (module to import, pip package, luacoder-train extra or None)
TRACKERS: dict[str, tuple[str, str, str | None]] = {
    "tensorboard": ("tensorboard", "tensorboard", "tensorboard"),
    "wandb": ("wandb", "wandb", "wandb"),
    "mlflow": ("mlflow", "mlflow", "mlflow"),
    "trackio": ("trackio", "trackio", None),
    "comet_ml": ("comet_ml", "comet-ml", None),
    "clearml": ("clearml", "clearml", None),
    "neptune": ("neptune", "neptune", None),
    "dvclive": ("dvclive", "dvclive", None),
    "swanlab": ("swanlab", "swanlab", None),
    "codecarbon": ("codecarbon", "codecarbon", None),
    "dagshub": ("dagshub", "dagshub", None),
    "azure_ml": ("azureml", "azureml-core", None),
    "flyte": ("flytekit", "flytekit", None),
    "kubeflow": ("kubeflow", "kubeflow-training", None),
}

FLASH = {"flash_attention_2": "flash_attn", "flash_attention_3": "flash_attn_interface"}


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _cuda() -> bool:
    from luacoder_train.recipe.config import cuda_available

    return cuda_available()


def _bf16_gpu() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def offline() -> bool:
    return any(os.environ.get(v, "").lower() in {"1", "true", "yes", "on"}
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def check_machine(resolved: Any, *, dry_run: bool = False) -> list[str]:
    """Apply the safe fallbacks (returned as warnings) and raise every other problem."""
    from luacoder_train.recipe.config import raise_problems

    options, kw, raw = resolved.options, resolved.trl_kwargs, resolved.raw
    warnings: list[str] = []
    problems: list[str] = []
    cuda = _cuda()

    # attention kernel
    attn = options.get("attn_implementation")
    if attn in FLASH:
        missing = []
        if not cuda:
            missing.append("no CUDA GPU is visible")
        if not installed(FLASH[attn]):
            missing.append(f"the {FLASH[attn].split('_interface')[0].replace('_', '-')} package is "
                           "not installed")
        if missing:
            options["attn_implementation"] = "sdpa"
            warnings.append(f"attn_implementation: {attn} cannot run here ({'; '.join(missing)}): "
                            "using sdpa (PyTorch's scaled dot-product attention; same results, "
                            "more memory at long lengths)")

    # mixed precision
    for key in ("bf16", "fp16"):
        if raw.get(key) is True and not cuda:
            kw[key] = False
            warnings.append(f"{key}: true needs a CUDA GPU (none is visible): training in float32 "
                            f"instead (same maths, more memory; set {key}: false to silence this)")
    if raw.get("bf16") is True and cuda and not _bf16_gpu():
        problems.append("key 'bf16': this GPU has no bfloat16 support (compute capability < 8.0): "
                        "use fp16: true and bf16: false")
    if raw.get("tf32") is True and not cuda:
        kw["tf32"] = None
        warnings.append("tf32: true needs an Ampere or newer CUDA GPU: left off on this machine")

    # quantization
    for key in ("load_in_4bit", "load_in_8bit"):
        if not options.get(key):
            continue
        what = "QLoRA" if key == "load_in_4bit" else "8-bit LoRA"
        if not options.get("use_peft"):
            problems.append(f"key '{key}': {what} trains adapters on a frozen quantized base: set "
                            "use_peft: true as well")
            continue
        missing = []
        if not cuda:
            missing.append("no CUDA GPU is visible")
        if not installed("bitsandbytes"):
            missing.append("bitsandbytes is not installed (pip install bitsandbytes)")
        if missing:
            problems.append(f"key '{key}': {what} ({key}) needs a CUDA GPU and bitsandbytes: "
                            + "; ".join(missing) + f". Use plain LoRA ({key}: false) on this machine")
    if options.get("load_in_4bit") and options.get("load_in_8bit"):
        problems.append("key 'load_in_8bit': load_in_4bit and load_in_8bit are exclusive: keep one")
    optim = str(kw.get("optim") or "")
    if ("bnb" in optim or "8bit" in optim or optim.startswith("paged_")) and (
            not cuda or not installed("bitsandbytes")):
        problems.append(f"key 'optim': {optim} is a bitsandbytes optimizer and needs a CUDA GPU and "
                        "bitsandbytes: use optim: adamw_torch on this machine")
    if kw.get("use_liger_kernel") and not installed("liger_kernel"):
        problems.append("key 'use_liger_kernel': the liger-kernel package is not installed "
                        "(pip install liger-kernel), or set use_liger_kernel: false")

    # trackers
    report_to = kw.get("report_to")
    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    for name in names:
        if name in ("none", "all", None):
            continue
        if name not in TRACKERS:
            guess = closest(str(name), TRACKERS)
            problems.append(f"key 'report_to': unknown tracker '{name}'"
                            + (f"; did you mean '{guess}'?" if guess else
                               f" (known: {', '.join(TRACKERS)})"))
            continue
        module, package, extra = TRACKERS[name]
        if not installed(module) and not (name == "tensorboard" and installed("tensorboardX")):
            how = (f"pip install 'luacoder-train[{extra}]'" if extra else f"pip install {package}")
            problems.append(f"key 'report_to': {name} is not installed ({how}), or remove it "
                            "from report_to")

    # evaluation
    strategy = str(kw.get("eval_strategy") or "no")
    if strategy != "no" and not resolved.has_eval_data:
        problems.append(f"key 'eval_strategy': {strategy} needs an eval set and the recipe has none: "
                        "add dataset_mixture.test_split_size (or eval_dataset / eval_split_size), "
                        "or set eval_strategy: \"no\"")
    elif kw.get("do_eval") and not resolved.has_eval_data:
        problems.append("key 'do_eval': true needs an eval set and the recipe has none: add "
                        "dataset_mixture.test_split_size (or eval_dataset / eval_split_size), or "
                        "set do_eval: false")
    elif strategy == "no" and resolved.has_eval_data and not kw.get("do_eval"):
        warnings.append("the recipe makes an eval set but eval_strategy is \"no\": it is not used "
                        "(set eval_strategy: steps or epoch)")

    # the hub
    if kw.get("push_to_hub"):
        if offline():
            problems.append("key 'push_to_hub': true but HF_HUB_OFFLINE is set: unset it on a "
                            "machine with network, or set push_to_hub: false (the model and its "
                            "card stay in output_dir)")
        else:
            from huggingface_hub import get_token

            if not (kw.get("hub_token") or get_token()):
                problems.append("key 'push_to_hub': true but no Hugging Face token is set: run "
                                "`hf auth login` or set HF_TOKEN, or set push_to_hub: false")
            elif not dry_run:
                problem = _reach_hub(kw.get("hub_token"))
                if problem:
                    problems.append(f"key 'push_to_hub': {problem}; or set push_to_hub: false")

    # deepspeed
    if kw.get("deepspeed") is not None and not installed("deepspeed"):
        message = ("key 'deepspeed': DeepSpeed is not installed (pip install "
                   "'luacoder-train[deepspeed]'), or remove deepspeed from the recipe")
        if dry_run:
            warnings.append(message)
        else:
            problems.append(message)

    raise_problems(problems, resolved.source)
    resolved.fallbacks.extend(warnings)
    return warnings


def _reach_hub(token: str | None) -> str | None:
    """Whether the token works against the hub (one short request); the reason when not."""
    try:
        from huggingface_hub import whoami

        whoami(token=token)
    except Exception as exc:  # noqa: BLE001 - any failure means the push would fail later
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"the hub cannot be reached with this token ({first[:200]})"
    return None
