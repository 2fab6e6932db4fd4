"""``luacoder eval serve``: an OpenAI-compatible server for a base model, a checkpoint, an
adapter or a sweep's best checkpoint, with continuous batching of concurrent requests.

:mod:`.engine` (the batching decode loop, torch only), :mod:`.schemas` and :mod:`.app` (the
FastAPI routes, from the ``serve`` extra), :mod:`.server` (model folder, backend, uvicorn) and
:mod:`.cli` (the click command). Importing this package imports none of them.
"""
