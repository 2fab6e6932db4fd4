"""Deprecated alias of :mod:`luacoder_train.outputs.checkpoints` (see :mod:`luacoder_train.common`)."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("luacoder_train.outputs.checkpoints")
