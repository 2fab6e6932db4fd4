"""Deprecated alias of :mod:`luacoder_train.trainers.runtime` (see :mod:`luacoder_train.common`)."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("luacoder_train.trainers.runtime")
