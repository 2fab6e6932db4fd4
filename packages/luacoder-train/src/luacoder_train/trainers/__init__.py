"""The built-in trainers (cheap to import; each imports torch/trl inside ``run``)."""

from luacoder_train.trainers.chat import ChatTrainer
from luacoder_train.trainers.dpo import DPOTrainer
from luacoder_train.trainers.pretrain import PretrainTrainer

BUILTIN = {"pretrain": PretrainTrainer, "chat": ChatTrainer, "dpo": DPOTrainer}

__all__ = ["BUILTIN", "ChatTrainer", "DPOTrainer", "PretrainTrainer"]
