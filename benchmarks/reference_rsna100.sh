#!/usr/bin/env bash
# The reference runs of the book on one GPU: the train-step benchmark, then Tables 1-3 and
# Fig. 2-3 on real radiographs (python -m arcnn_lib reproduce). Writes only JSON, CSV and PNG.
#
#   bash benchmarks/reference_rsna100.sh DATA_DIR [OUT_DIR] [BUDGET_MINUTES] [GIT_COMMIT]
#
# With ABLATION_EPOCHS=N set, it then runs the seeded ablations of chapter 10
# (python -m arcnn_lib ablation, validation split only) into results/ablation.
# DATA_DIR: RSNA radiographs in any public layout (the book uses rsna100).
# BUDGET_MINUTES: wall-clock budget of the training runs; --epochs auto fits them into it
# and records the epoch count, which `--epochs N` reproduces on any GPU.
set -uo pipefail
DATA=${1:?usage: $0 DATA_DIR [OUT_DIR] [BUDGET_MINUTES] [GIT_COMMIT]}
OUT=${2:-results/reference}
BUDGET=${3:-30}
COMMIT=${4:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
export ARCNN_CACHE=${ARCNN_CACHE:-${TMPDIR:-/tmp}/arcnn_cache} PYTHONUNBUFFERED=1
mkdir -p "$OUT"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
# Speed first (about a minute on an H200), then the reference runs.
python benchmarks/train_step.py --json "$OUT/benchmark_train_step.json" || echo "benchmark failed"
# A hard stop a little past the budget, so that whatever finished is still written out.
LIMIT=$(python -c "print(int(float('$BUDGET') * 60 + 120))")
timeout "$LIMIT" python -m arcnn_lib reproduce --data "$DATA" --out "$OUT" \
    --work "${ARCNN_CACHE}/reference_runs" --profile gpu --epochs auto \
    --budget-minutes "$BUDGET" --git-commit "$COMMIT" --quiet
echo "reproduce exit code $?"
if [ -n "${ABLATION_EPOCHS:-}" ]; then
    python -m arcnn_lib ablation --data "$DATA" --out results/ablation \
        --work "${ARCNN_CACHE}/ablation_runs" --profile gpu --epochs "$ABLATION_EPOCHS" \
        --git-commit "$COMMIT" --quiet
    echo "ablation exit code $?"
fi
