"""Deprecated alias of :mod:`luacoder_train.data.masking` (see :mod:`luacoder_train.common`)."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("luacoder_train.data.masking")
