#!/usr/bin/env bash
# From a fresh machine (Python 3.10+ and pip) to an evaluated model:
#   1. creates .venv and installs torch first (CPU wheel where one is served), then the four
#      luacoder packages and nox, pinned by constraints.txt;
#   2. runs examples/quickstart/pipeline.yaml: docs -> API records -> code, chat and preference
#      sets -> ~1M-parameter offline model -> pretrain -> chat SFT -> DPO on the SFT model's own
#      labelled answers -> eval of every checkpoint on held-out prompts (report.html each);
#   3. writes the figures to examples/quickstart/runs/quickstart/latest/results.json.
# Extra arguments go to `luacoder run` (e.g. --dry-run, --force STAGE).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/pip install -q -c constraints.txt "torch==2.13.0"
.venv/bin/pip install -q -c constraints.txt \
  -e packages/luacoder-core -e packages/luacoder-data -e packages/luacoder-train \
  -e packages/luacoder-eval nox pytest
echo "environment ready in $(( $(date +%s) - start )) s: $(.venv/bin/luacoder --version)"
# One torch thread: the demo's ~1M-parameter model gains nothing from more, and on a busy
# 2-core machine two threads thrash (measured 8x slower training); it also keeps runs repeatable.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false .venv/bin/luacoder run examples/quickstart/pipeline.yaml "$@"
case " $* " in
  *" --dry-run "*) ;;
  *) .venv/bin/python examples/quickstart/results.py ;;  # the figures -> runs/quickstart/latest/results.json
esac
echo "quickstart finished in $(( $(date +%s) - start )) s"
