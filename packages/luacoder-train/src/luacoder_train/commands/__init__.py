"""Extra ``luacoder train`` commands: ``init-model``, ``merge``, ``launch``."""
