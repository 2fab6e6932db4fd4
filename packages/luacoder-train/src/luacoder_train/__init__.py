"""luacoder-train: the ``pretrain``, ``chat`` and ``dpo`` trainers, PEFT, DeepSpeed configs and
launching, registered as luacoder plugins.

Importing this package is cheap: torch, transformers, trl and peft are imported inside the
functions that train.
"""

__version__ = "0.1.0"
