"""The built-in trainers (cheap to import; each imports torch/trl inside ``run``)."""

from luacoder_train.trainers.chat import ChatTrainer
from luacoder_train.trainers.dpo import DPOTrainer
from luacoder_train.trainers.grpo import GRPOTrainer
from luacoder_train.trainers.pretrain import PretrainTrainer

BUILTIN = {"pretrain": PretrainTrainer, "chat": ChatTrainer, "dpo": DPOTrainer, "grpo": GRPOTrainer}

__all__ = ["BUILTIN", "ChatTrainer", "DPOTrainer", "GRPOTrainer", "PretrainTrainer"]
