"""Recipes from the ecosystem run as they are: alignment-handbook's starchat2 SFT and zephyr DPO
recipes (paths, model and step counts changed only), renamed keys, dataset_mixture, settings this
machine cannot honour, and the model card every model leaves with."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from luacoder_core.model_card import EVAL_START, read_card
from train_testutil import CONVERSATIONS, PREFERENCES, conversation, write_jsonl

# recipes/starchat2-15b/sft/config_v0.1.yaml (huggingface/alignment-handbook) with the model and
# the dataset ids pointed at local files, num_train_epochs 3 -> max_steps for a CPU
STARCHAT2_SFT = """\
# Model arguments
model_name_or_path: {model}
model_revision: main
torch_dtype: bfloat16
attn_implementation: flash_attention_2

# Data training arguments
chat_template: "{{% if not add_generation_prompt is defined %}}{{% set add_generation_prompt = false %}}{{% endif %}}{{% for message in messages %}}{{{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}}}{{% endfor %}}{{% if add_generation_prompt %}}{{{{ '<|im_start|>assistant\\n' }}}}{{% endif %}}"
dataset_mixture:
  datasets:
    - id: {data}/code_feedback.jsonl
      config: default
      split: train_sft
      columns:
        - messages
      weight: 1.0
    - id: {data}/capybara
      config: default
      split: train_sft
      columns:
        - messages
      weight: 1.0
    - id: {data}/code_feedback.jsonl
      config: default
      split: test_sft
      columns:
        - messages
      weight: 1.0
    - id: {data}/capybara
      config: default
      split: test_sft
      columns:
        - messages
      weight: 1.0
  test_split_size: 6
  seed: 0
dataset_num_proc: 24

# SFT trainer config
bf16: true
do_eval: true
eval_strategy: epoch
gradient_accumulation_steps: 2
gradient_checkpointing: true
gradient_checkpointing_kwargs:
  use_reentrant: false
hub_model_id: starchat2-15b-v0.1
hub_strategy: every_save
learning_rate: 2.0e-05
log_level: info
logging_steps: 5
logging_strategy: steps
lr_scheduler_type: cosine
max_length: 2048
max_steps: 2
num_train_epochs: 3
output_dir: {out}
overwrite_output_dir: true
per_device_eval_batch_size: 8
per_device_train_batch_size: 8
push_to_hub: true
remove_unused_columns: true
report_to:
- tensorboard
- wandb
save_strategy: "no"
seed: 42
warmup_ratio: 0.1
"""

# recipes/zephyr-7b-beta/dpo/config_full.yaml, ultrafeedback_binarized -> a local file of the same
# shape (chosen/rejected as message lists holding the prompt), steps for a CPU
ZEPHYR_DPO = """\
# Model arguments
model_name_or_path: {model}
torch_dtype: null

# Data training arguments
dataset_mixture:
  datasets:
    - id: {data}/ultrafeedback.jsonl
      config: default
      split: train_prefs
      columns:
        - chosen
        - rejected
      weight: 1.0
    - id: {data}/ultrafeedback.jsonl
      config: default
      split: test_prefs
      columns:
        - chosen
        - rejected
      weight: 1.0
  test_split_size: 4
  seed: 0
dataset_num_proc: 12

# DPOTrainer arguments
bf16: true
beta: 0.01
do_eval: true
eval_strategy: steps
eval_steps: 2
gradient_accumulation_steps: 2
gradient_checkpointing: true
gradient_checkpointing_kwargs:
  use_reentrant: False
hub_model_id: zephyr-7b-dpo-full
learning_rate: 5.0e-7
log_level: info
logging_steps: 10
lr_scheduler_type: cosine
max_length: 1024
max_prompt_length: 512
num_train_epochs: 1
max_steps: 2
optim: adamw_torch
output_dir: {out}
per_device_train_batch_size: 8
per_device_eval_batch_size: 8
push_to_hub: true
save_strategy: "steps"
save_steps: 2
save_total_limit: 1
seed: 42
warmup_ratio: 0.1
"""


def ultrafeedback_rows(repeat: int = 4) -> list[dict]:
    """ultrafeedback_binarized's shape: prompt string, chosen/rejected conversations, scores."""
    rows = []
    for prompt, good, bad in PREFERENCES * repeat:
        user = {"role": "user", "content": prompt}
        rows.append({"prompt": prompt, "prompt_id": str(len(rows)),
                     "chosen": [user, {"role": "assistant", "content": good}],
                     "rejected": [user, {"role": "assistant", "content": bad}],
                     "score_chosen": 8.0, "score_rejected": 3.0})
    return rows


@pytest.fixture(scope="module")
def hub_like_data(tmp_path_factory) -> Path:
    """Local stand-ins for the handbook's hub datasets: a JSONL pair as the data stage writes it
    with --test-size (NAME.jsonl + NAME.test_sft.jsonl is NAME.SPLIT.jsonl), a save_to_disk
    DatasetDict folder with train_sft/test_sft, and ultrafeedback-shaped preference files."""
    import datasets

    folder = tmp_path_factory.mktemp("hub_like")
    chats = [conversation(c) for c in CONVERSATIONS]
    write_jsonl(folder / "code_feedback.train_sft.jsonl", chats * 3)
    write_jsonl(folder / "code_feedback.test_sft.jsonl", chats)
    (folder / "code_feedback.jsonl.rejects.jsonl").write_text(  # as `luacoder data` leaves it
        '{"reason": "no assistant turn", "source": "x.jsonl:3"}\n', encoding="utf-8")
    datasets.DatasetDict({
        "train_sft": datasets.Dataset.from_list(chats * 2),
        "test_sft": datasets.Dataset.from_list(chats[:2]),
    }).save_to_disk(str(folder / "capybara"))
    write_jsonl(folder / "ultrafeedback.train_prefs.jsonl", ultrafeedback_rows(4))
    write_jsonl(folder / "ultrafeedback.test_prefs.jsonl", ultrafeedback_rows(1))
    return folder


def recipe_file(tmp_path: Path, template: str, model: Path, data: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(template.format(model=model, data=data, out=tmp_path / "out"), encoding="utf-8")
    return path


def card_of(folder: Path) -> tuple[dict, str]:
    path = folder / "README.md"
    assert path.is_file(), f"no model card in {folder}"
    return read_card(path)


# ------------------------------------------------------------------------------------------------
# The real recipes
# ------------------------------------------------------------------------------------------------


def test_starchat2_sft_recipe_runs_with_only_paths_changed(tmp_path, tiny_model, hub_like_data,
                                                           run_cli, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    recipe = recipe_file(tmp_path, STARCHAT2_SFT, tiny_model, hub_like_data)
    # as written, the recipe wants trackers and a hub push this machine cannot serve: one run
    # names all of them, with what to do
    first = run_cli("train", "chat", recipe, expect=2)
    assert "Traceback" not in first.output
    expected = ["key 'push_to_hub'", "HF_HUB_OFFLINE"]
    for tracker in ("tensorboard", "wandb"):
        if _missing(tracker):
            expected += [f"key 'report_to': {tracker} is not installed",
                         f"pip install 'luacoder-train[{tracker}]'"]
    for text in expected:
        assert text in first.output, text
    assert not (tmp_path / "out").exists()

    result = run_cli("train", "chat", recipe, "--set", "report_to=none", "--set", "push_to_hub=false")
    out = result.output
    # renamed/dropped keys: one notice each, saying what they became
    assert "'torch_dtype: \"bfloat16\"' -> 'dtype: \"bfloat16\"'" in out
    assert "'warmup_ratio: 0.1' -> 'warmup_steps: 0.1'" in out
    assert "'overwrite_output_dir' dropped" in out
    # what this machine cannot do falls back with a warning
    assert "attn_implementation: flash_attention_2 cannot run here" in out and "using sdpa" in out
    assert "bf16: true needs a CUDA GPU" in out
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    # test_split_size made the eval set that eval_strategy: epoch used
    assert any("eval_loss" in e for e in state["log_history"])

    meta, body = card_of(tmp_path / "out")
    assert meta["pipeline_tag"] == "text-generation" and meta["library_name"] == "transformers"
    assert {"luacoder", "chat", "trl"} <= set(meta["tags"])
    assert meta["model_name"] == "starchat2-15b-v0.1"
    assert f"`{tiny_model}`" in body and "TRL's SFTTrainer" in body
    # every source with its counts: 15 + 10 train_sft, 5 + 2 test_sft, 6 held out for eval
    assert "| code_feedback.jsonl (split train_sft) | train_sft | 15 | 15 | 1 |" in body
    assert "| capybara (split train_sft) | train_sft | 10 | 10 | 1 |" in body
    assert "1 record(s) rejected by the data stage" in body
    assert "| capybara (split test_sft) | test_sft | 2 | 2 | 1 |" in body
    assert "32 training record(s) in all." in body and "6 of them were held out" in body
    assert "| `learning_rate` | 2e-05 |" in body and "| `attn_implementation` | sdpa |" in body
    for dist in ("luacoder-train", "transformers", "trl"):
        assert f"| {dist} | " in body
    assert EVAL_START in body


def test_zephyr_dpo_recipe_on_conversational_preferences(tmp_path, tiny_model, hub_like_data,
                                                         run_cli, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    recipe = recipe_file(tmp_path, ZEPHYR_DPO, tiny_model, hub_like_data)
    result = run_cli("train", "dpo", recipe, "--set", "push_to_hub=false")
    out = result.output
    assert "'max_prompt_length' dropped" in out and "max_length" in out
    assert "'torch_dtype: null' -> 'dtype: null'" in out
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    assert any("eval_loss" in e for e in state["log_history"])
    # the prompt came out of chosen/rejected: the chosen reply alone carries the loss
    dry = run_cli("train", "dpo", recipe, "--set", "push_to_hub=false", "--dry-run").output
    assert "<|im_start|>user" in dry.split("(prompt)")[0]
    assert "<|im_start|>user" not in dry.split("(prompt)")[1].split("(chosen)")[0]
    meta, body = card_of(tmp_path / "out")
    assert {"dpo", "luacoder"} <= set(meta["tags"]) and "TRL's DPOTrainer" in body
    assert "| ultrafeedback.jsonl (split train_prefs) | train_prefs | 20 | 20 | 1 |" in body
    assert "| `beta` | 0.01 |" in body
    # the checkpoint carries its own card
    ckpt_meta, ckpt_body = card_of(tmp_path / "out" / "checkpoint-2")
    assert "checkpoint at step 2" in ckpt_body and ckpt_meta["pipeline_tag"] == "text-generation"


# ------------------------------------------------------------------------------------------------
# Keys
# ------------------------------------------------------------------------------------------------


def test_renamed_keys_table_matches_the_installed_libraries():
    """Every entry's old name is really absent from the installed TrainingArguments/TRL configs
    (or it would be passed through), and its new name really exists."""
    from luacoder_train.recipe.config import BASE_KEYS
    from luacoder_train.recipe.keys import RENAMED
    from transformers import TrainingArguments
    from trl import DPOConfig, SFTConfig

    fields = {cls: {f.name for f in dataclasses.fields(cls)}
              for cls in (TrainingArguments, SFTConfig, DPOConfig)}
    for entry in RENAMED:
        for cls, names in fields.items():
            assert entry.old not in names, f"{entry.old} is a {cls.__name__} field again"
        if entry.new is not None:
            assert entry.new in BASE_KEYS or entry.new in fields[SFTConfig], entry.new


def test_every_unknown_key_in_one_run(tmp_path, tiny_model, data_dir, run_cli):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({
        "model_name_or_path": str(tiny_model), "dataset": str(data_dir / "chat.jsonl"),
        "output_dir": str(tmp_path / "out"), "learning_rat": 1e-4, "per_device_batch_size": 2,
        "gradient_acumulation_steps": 2, "max_steps": "ten",
        "dataset_mixture": {"datasets": [{"id": "x.jsonl", "wieght": 2}], "test_split": 3}}))
    result = run_cli("train", "chat", recipe, "--dry-run", expect=2)
    out = result.output
    assert "problems:" in out and "Traceback" not in out
    for text in ("unknown key 'learning_rat'; did you mean 'learning_rate'?",
                 "unknown key 'gradient_acumulation_steps'; did you mean 'gradient_accumulation_steps'?",
                 "unknown key 'per_device_batch_size'",
                 "unknown key 'dataset_mixture.test_split'; did you mean 'test_split_size'?",
                 "unknown key 'dataset_mixture.datasets[0].wieght'; did you mean 'weight'?",
                 "key 'max_steps' must be int", "set one of 'dataset' and 'dataset_mixture'"):
        assert text in out, text


def test_keys_of_another_trainer_and_renames_follow_each_trainers_config():
    """Known keys come from each trainer's own TRL config: a GRPO recipe keeps
    max_completion_length (a GRPOConfig field) while DPO drops it with a notice; SFT ignores
    DPO's beta with a notice naming DPOConfig."""
    from luacoder_train.recipe.config import build_schema
    from luacoder_train.recipe.keys import sort_keys
    from trl import DPOConfig, GRPOConfig, SFTConfig

    config = {"max_completion_length": 64, "beta": 0.1, "evaluation_strategy": "steps"}
    grpo, notices, problems = sort_keys(config, build_schema(GRPOConfig, {}), config_cls=GRPOConfig)
    assert grpo["max_completion_length"] == 64 and grpo["eval_strategy"] == "steps" and not problems
    dpo, notices, problems = sort_keys(config, build_schema(DPOConfig, {}), config_cls=DPOConfig)
    assert "max_completion_length" not in dpo and dpo["beta"] == 0.1 and not problems
    assert any("'max_completion_length' dropped" in n for n in notices)
    sft, notices, problems = sort_keys(config, build_schema(SFTConfig, {}), config_cls=SFTConfig)
    assert "beta" not in sft and not problems
    assert any("'beta' ignored: a DPOConfig field" in n or "'beta' ignored: a GRPOConfig field" in n
               for n in notices)


def test_old_and_new_name_with_different_values_is_an_error(tmp_path, tiny_model, data_dir, run_cli):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({
        "model_name_or_path": str(tiny_model), "dataset": str(data_dir / "chat.jsonl"),
        "output_dir": str(tmp_path / "out"), "max_seq_length": 128, "max_length": 256}))
    result = run_cli("train", "chat", recipe, "--dry-run", expect=2)
    assert "'max_seq_length' is the old name of 'max_length'" in result.output


# ------------------------------------------------------------------------------------------------
# dataset_mixture
# ------------------------------------------------------------------------------------------------


def dry(run_cli, tmp_path, trainer: str, expect: int = 0, **keys):
    recipe = tmp_path / f"{trainer}.yaml"
    recipe.write_text(yaml.safe_dump(keys, sort_keys=False))
    return run_cli("train", trainer, recipe, "--dry-run", expect=expect).output


def test_dataset_mixture_forms_weights_and_test_split(tmp_path, tiny_model, hub_like_data, run_cli):
    import datasets

    data = hub_like_data
    parquet = tmp_path / "chat.parquet"
    datasets.Dataset.from_list([conversation(c) for c in CONVERSATIONS] * 2).to_parquet(str(parquet))
    base = {"model_name_or_path": str(tiny_model), "output_dir": str(tmp_path / "out"),
            "max_length": 256}
    # handbook form: weight 0.5 keeps a seeded half; a save_to_disk split; a parquet file
    out = dry(run_cli, tmp_path, "chat", **base, dataset_mixture={
        "datasets": [{"id": str(data / "code_feedback.jsonl"), "split": "train_sft", "weight": 0.6},
                     {"id": str(data / "capybara"), "split": "test_sft", "columns": ["messages"]},
                     {"id": str(parquet)}],
        "test_split_size": 0.25, "seed": 3})
    # 15 * 0.6 = 9, + 2 + 10 = 21 records; a quarter held out
    assert "eval records: 6 (training records: 15)" in out
    assert f"{data / 'capybara'}:test_sft" in out
    # TRL's form at the top level (path/name/fraction): shares of the final mixture
    out = dry(run_cli, tmp_path, "chat", **base, datasets=[
        {"path": str(data / "code_feedback.jsonl"), "split": "train_sft", "fraction": 0.5},
        {"path": str(parquet), "fraction": 0.5}], test_split_size=2)
    assert "top-level 'datasets' (TRL's DatasetMixtureConfig) read as dataset_mixture" in out
    assert "eval records: 2 (training records: 18)" in out  # 10 + 10 without repeating a row
    # the handbook's older dataset_mixer: test splits become the eval set, whole
    out = dry(run_cli, tmp_path, "chat", **base, dataset_mixer={str(data / "capybara"): 0.5},
              dataset_splits=["train_sft", "test_sft"], eval_strategy="epoch")
    assert "'dataset_mixer' (alignment-handbook's older form)" in out
    assert "eval records: 2 (training records: 5)" in out
    # TRL's ScriptArguments
    out = dry(run_cli, tmp_path, "chat", **base, dataset_name=str(data / "capybara"),
              dataset_train_split="train_sft", dataset_test_split="test_sft", eval_strategy="steps")
    assert "eval records: 2 (training records: 10)" in out


@pytest.mark.parametrize("trainer", ["pretrain", "chat", "dpo"])
def test_test_split_size_makes_the_eval_set_for_every_trainer(trainer, tmp_path, tiny_model,
                                                              data_dir, run_cli):
    files = {"pretrain": "code.jsonl", "chat": "chat.jsonl", "dpo": "pref.jsonl"}
    out = dry(run_cli, tmp_path, trainer, model_name_or_path=str(tiny_model),
              output_dir=str(tmp_path / "out"), max_length=128, eval_strategy="epoch",
              dataset_mixture={"datasets": [{"id": str(data_dir / files[trainer])}],
                               "test_split_size": 5, "seed": 0})
    assert "eval records: 5 (training records:" in out
    # the same recipe without test_split_size is refused before anything loads
    out = dry(run_cli, tmp_path, trainer, expect=2, model_name_or_path=str(tiny_model),
              output_dir=str(tmp_path / "out"), eval_strategy="epoch",
              dataset_mixture={"datasets": [{"id": str(data_dir / files[trainer])}]})
    assert "key 'eval_strategy': epoch needs an eval set" in out


def test_hub_dataset_offline_is_named(tmp_path, tiny_model, run_cli, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = dry(run_cli, tmp_path, "chat", expect=2, model_name_or_path=str(tiny_model),
              output_dir=str(tmp_path / "out"),
              dataset_mixture={"datasets": [{"id": "HuggingFaceH4/no_robots", "split": "train"}]})
    assert "dataset 'HuggingFaceH4/no_robots'" in out and "HF_HUB_OFFLINE is set" in out
    assert "Traceback" not in out


# ------------------------------------------------------------------------------------------------
# Settings this machine cannot honour
# ------------------------------------------------------------------------------------------------


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


def _no_cuda() -> bool:
    import torch

    return not torch.cuda.is_available()


# (case, recipe keys, exit code, texts the output names, run only when)
CASES = [
    ("flash-attention", {"attn_implementation": "flash_attention_2"}, 0,
     ["attn_implementation: flash_attention_2 cannot run here", "using sdpa"],
     _no_cuda() or _missing("flash_attn")),
    ("bf16", {"bf16": True}, 0, ["bf16: true needs a CUDA GPU", "float32"], _no_cuda()),
    ("fp16", {"fp16": True}, 0, ["fp16: true needs a CUDA GPU", "float32"], _no_cuda()),
    ("4bit", {"use_peft": True, "load_in_4bit": True}, 2,
     ["key 'load_in_4bit'", "needs a CUDA GPU and bitsandbytes"], _no_cuda() or _missing("bitsandbytes")),
    ("8bit", {"use_peft": True, "load_in_8bit": True}, 2,
     ["key 'load_in_8bit'", "needs a CUDA GPU and bitsandbytes"], _no_cuda() or _missing("bitsandbytes")),
    ("4bit-without-peft", {"load_in_4bit": True}, 2, ["key 'load_in_4bit'", "use_peft: true"], True),
    ("bnb-optimizer", {"optim": "paged_adamw_8bit"}, 2, ["key 'optim'", "adamw_torch"],
     _no_cuda() or _missing("bitsandbytes")),
    ("liger", {"use_liger_kernel": True}, 2, ["key 'use_liger_kernel'", "liger-kernel"],
     _missing("liger_kernel")),
    ("tensorboard", {"report_to": ["tensorboard"]}, 2,
     ["key 'report_to'", "luacoder-train[tensorboard]"], _missing("tensorboard")),
    ("wandb", {"report_to": "wandb"}, 2, ["key 'report_to'", "luacoder-train[wandb]"], _missing("wandb")),
    ("mlflow", {"report_to": ["mlflow"]}, 2, ["key 'report_to'", "luacoder-train[mlflow]"],
     _missing("mlflow")),
    ("tracker-typo", {"report_to": ["tensorbord"]}, 2,
     ["unknown tracker 'tensorbord'", "did you mean 'tensorboard'"], True),
    ("eval-strategy-no-eval-set", {"eval_strategy": "steps"}, 2,
     ["key 'eval_strategy'", "needs an eval set", "test_split_size"], True),
    ("evaluation_strategy-no-eval-set", {"evaluation_strategy": "epoch"}, 2,
     ["key 'eval_strategy'", "needs an eval set"], True),
    ("do-eval-no-eval-set", {"do_eval": True}, 2, ["key 'do_eval'", "needs an eval set"], True),
    ("push-offline", {"push_to_hub": True, "hub_model_id": "me/model"}, 2,
     ["key 'push_to_hub'", "HF_HUB_OFFLINE"], True),
    ("push-no-token", {"push_to_hub": True, "_online": True}, 2,
     ["key 'push_to_hub'", "no Hugging Face token", "hf auth login"], True),
    ("streaming", {"dataset_mixture": {"streaming": True}}, 2,
     ["dataset_mixture.streaming", "streaming: false"], True),
    ("bad-test-split", {"dataset_mixture": {"test_split_size": 1.5}}, 2,
     ["dataset_mixture.test_split_size", "fraction"], True),
    ("warmup-ratio-range", {"warmup_ratio": 1.5}, 2, ["warmup_ratio must be a number in [0, 1)"], True),
    ("tf32-on-cpu", {"tf32": True}, 0, ["tf32: true needs an Ampere"], _no_cuda()),
]


@pytest.mark.parametrize("case,keys,code,texts,applies", CASES, ids=[c[0] for c in CASES])
def test_settings_the_machine_cannot_honour_are_named(case, keys, code, texts, applies, tmp_path,
                                                      tiny_model, data_dir, run_cli, monkeypatch):
    if not applies:
        pytest.skip(f"this machine can honour {case}")
    keys = dict(keys)
    if keys.pop("_online", False):
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
        monkeypatch.setattr("huggingface_hub.get_token", lambda: None)  # no stored token either
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    recipe = {"model_name_or_path": str(tiny_model), "output_dir": str(tmp_path / "out"),
              "max_length": 128}
    mixture = keys.pop("dataset_mixture", None)
    if mixture is not None:
        recipe["dataset_mixture"] = {"datasets": [{"id": str(data_dir / "chat.jsonl")}], **mixture}
    else:
        recipe["dataset"] = str(data_dir / "chat.jsonl")
    recipe.update(keys)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    result = run_cli("train", "chat", path, "--dry-run", expect=code)
    assert "Traceback" not in result.output
    for text in texts:
        assert text in result.output, text
    if code == 2:
        assert str(path) in result.output
        assert not (tmp_path / "out").exists()


def test_dry_run_lists_every_unmet_setting_at_once(tmp_path, tiny_model, data_dir, run_cli,
                                                   monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if not _missing("tensorboard") or not _no_cuda():
        pytest.skip("needs a machine without tensorboard and without a GPU")
    out = dry(run_cli, tmp_path, "chat", expect=2, model_name_or_path=str(tiny_model),
              dataset=str(data_dir / "chat.jsonl"), output_dir=str(tmp_path / "out"),
              report_to=["tensorboard"], eval_strategy="epoch", push_to_hub=True,
              use_peft=True, load_in_4bit=True)
    assert "4 problems:" in out
    for key in ("report_to", "eval_strategy", "push_to_hub", "load_in_4bit"):
        assert f"key '{key}'" in out, key


# ------------------------------------------------------------------------------------------------
# The card itself, and the old module names
# ------------------------------------------------------------------------------------------------


def test_card_front_matter_for_a_hub_base_and_an_adapter(tmp_path):
    from luacoder_train.outputs.model_card import card_info, save_card

    base = tmp_path / "base"
    base.mkdir()
    (base / "README.md").write_text("---\nlicense: apache-2.0\n---\n# base\n")
    (tmp_path / "local.jsonl").write_text("{}\n")
    (tmp_path / "local.jsonl.rejects.jsonl").write_text('{"reason": "x"}\n{"reason": "y"}\n')
    provenance = [
        {"source": "HuggingFaceH4/Code-Feedback (split train_sft)", "path": "HuggingFaceH4/Code-Feedback",
         "local": False, "split": "train_sft", "weight": 0.5, "fraction": None, "read": 100,
         "skipped": 0, "rows": 50},
        {"source": "local.jsonl", "path": str(tmp_path / "local.jsonl"), "local": True,
         "split": "train", "weight": 1.0, "fraction": None, "read": 10, "skipped": 1, "rows": 9}]
    for base_model, expect_base in (("Qwen/Qwen2.5-Coder-1.5B", "Qwen/Qwen2.5-Coder-1.5B"),
                                     (str(base), None)):
        info = card_info(trainer="chat", base_model=base_model, adapter=True,
                         output_dir=str(tmp_path / "out"), provenance=provenance, eval_provenance=[],
                         eval_split=None, settings={"learning_rate": 1e-4, "lora_r": 8},
                         hub_model_id="me/lua-chat", notices=["'a' -> 'b'"])
        folder = tmp_path / "ckpt"
        folder.mkdir(exist_ok=True)
        meta, body = read_card(save_card(folder, info, step=7, final=False, loss=1.25))
        assert meta.get("base_model") == expect_base
        assert meta["datasets"] == ["HuggingFaceH4/Code-Feedback"]
        assert meta["library_name"] == "peft" and {"lora", "peft"} <= set(meta["tags"])
        # the license comes from the base model's card when there is one
        assert meta.get("license") == (None if expect_base else "apache-2.0")
        assert "checkpoint at step 7" in body and "LoRA adapter" in body
        assert "| HuggingFaceH4/Code-Feedback (split train_sft) | train_sft | 100 | 50 | 0.5 | hub dataset" in body
        assert "1 unusable record(s) skipped" in body
        assert "2 record(s) rejected by the data stage (its `.rejects.jsonl`)" in body
        assert "59 training record(s) in all." in body and "Last logged training loss: 1.2500." in body


def test_old_module_names_still_import():
    import luacoder_train.common.base as old_base
    import luacoder_train.common.config as old_config
    import luacoder_train.common.data as old_data
    import luacoder_train.data.loading as loading
    import luacoder_train.recipe.config as config
    import luacoder_train.trainers.base as base

    assert old_base is base and old_config is config and old_data is loading
