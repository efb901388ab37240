#!/usr/bin/env bash
# The book's real-data reference in one short GPU session (about 8 minutes of wall time on
# one H100 or H200, data transfer excluded). Stages run in order of importance; each one
# writes its files the moment they exist and then records itself in OUT/status.json, so a
# session cut short still leaves everything it finished, marked as incomplete.
#
#   bash benchmarks/gpu_reference.sh DATA_DIR OUT_DIR [MINUTES] [PROFILE] [GIT_COMMIT]
#
# DATA_DIR  RSNA radiographs in any public layout (the book uses rsna100).
# OUT_DIR   gets reference/ (Tables 1-3, Fig. 3: python -m arcnn_lib reproduce),
#           benchmark_train_step.json and benchmark_train_step_compile.json, and status.json.
# MINUTES   the whole session's wall-time budget (default 8).
# PROFILE   the model profile of the reference runs (default gpu: ResNet-50 at 224 px; the
#           CPU check of this script uses smoke on a few hundred images).
#
# Stages and their share of the budget:
#   1. reference   Table 3 and Table 2 (AR-CNN K = 3 and the baseline, boys and girls),
#                  then Table 1 (K = 1, 2, 4, boys): four runs at a time on the one device,
#                  epochs fitted to the stage's budget and recorded (--epochs N reproduces).
#   2. fitted      the phantom study's chosen variant on the same data: the K = 3 runs
#                  re-assembled with unit weights fitted on validation, beside Eq. 1.
#   3. benchmark   the train-step benchmark at the paper configuration, eager, then compiled.
#   4. rois        the expert-region scores of the K = 3 runs (with ROIS=<regions CSV> set).
# A stage that has too little time left is recorded as skipped, never started half.
set -uo pipefail
DATA=${1:?usage: $0 DATA_DIR OUT_DIR [MINUTES] [PROFILE] [GIT_COMMIT]}
OUT=${2:?usage: $0 DATA_DIR OUT_DIR [MINUTES] [PROFILE] [GIT_COMMIT]}
MINUTES=${3:-8}
PROFILE=${4:-gpu}
COMMIT=${5:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
export ARCNN_CACHE=${ARCNN_CACHE:-${TMPDIR:-/tmp}/arcnn_cache} PYTHONUNBUFFERED=1
mkdir -p "$OUT"
T0=$(date +%s)
python - "$OUT/status.json" "$PROFILE" "$MINUTES" "$COMMIT" <<'PY'
import json, sys, torch
path, profile, minutes, commit = sys.argv[1:]
cuda = torch.cuda.is_available()
json.dump({"complete": False, "profile": profile, "budget_minutes": float(minutes),
           "git_commit": commit, "device": torch.cuda.get_device_name() if cuda else "cpu",
           "torch": torch.__version__, "stages": {}}, open(path, "w"), indent=2)
PY

left() { echo $(( T0 + ${MINUTES%.*} * 60 - $(date +%s) )); }
# record STAGE STATE [SECONDS]: one line of status.json per stage, written as it ends
record() {
    python - "$OUT/status.json" "$1" "$2" "${3:-0}" <<'PY'
import json, sys
path, stage, state, seconds = sys.argv[1:]
s = json.load(open(path))
s["stages"][stage] = {"state": state, "seconds": int(seconds)}
s["complete"] = all(v["state"] == "done" for v in s["stages"].values())
json.dump(s, open(path, "w"), indent=2)
PY
}
# stage NAME SHARE MIN_SECONDS COMMAND...: run COMMAND with a hard stop at its share of the
# time still left (at least MIN_SECONDS, at most what is left), and record how it ended
stage() {
    local name=$1 share=$2 need=$3; shift 3
    local rest; rest=$(left)
    local limit=$(( rest * share / 100 ))
    (( limit < need )) && limit=$need
    if (( rest < need )); then
        echo "[gpu_reference] $name skipped: ${rest}s left, needs ${need}s"
        record "$name" "skipped: out of time"; return
    fi
    (( limit > rest )) && limit=$rest
    echo "[gpu_reference] $name: up to ${limit}s"
    local t=$(date +%s)
    timeout --signal=INT --kill-after=30 "$limit" "$@"
    local rc=$? seconds=$(( $(date +%s) - t ))
    if (( rc == 0 )); then record "$name" done "$seconds"
    elif (( rc == 124 )); then record "$name" "incomplete: stopped at its time limit" "$seconds"
    else record "$name" "incomplete: exit code $rc" "$seconds"; fi
}

# 1. Tables 3, 2, 1 on the real radiographs. reproduce plans its epochs inside its budget
#    (a minute less than the stage's limit, for evaluation and the figure).
REF_BUDGET=$(python -c "print(max(1.0, ($(left) * 0.70 - 60) / 60))")
stage reference 70 120 python -m arcnn_lib reproduce --data "$DATA" --out "$OUT/reference" \
    --work "$ARCNN_CACHE/reference_runs" --profile "$PROFILE" --epochs auto \
    --budget-minutes "$REF_BUDGET" --jobs 4 --git-commit "$COMMIT" --quiet
RUNS="$ARCNN_CACHE/reference_runs"
K3=()
for sex in male female; do
    [ -f "$RUNS/arcnn_${sex}_k3/best.pt" ] && K3+=("$RUNS/arcnn_${sex}_k3/best.pt")
done
# a set with runs that did not fit is marked so, whatever the exit code said
python - "$OUT/status.json" "$OUT/reference/manifest.json" <<'PY'
import json, os, sys
status, manifest = sys.argv[1:]
s = json.load(open(status))
if os.path.exists(manifest) and not json.load(open(manifest)).get("complete"):
    missing = [r["name"] for r in json.load(open(manifest))["skipped"]]
    s["stages"]["reference"]["state"] = "incomplete: not run " + ", ".join(missing)
    s["complete"] = False
json.dump(s, open(status, "w"), indent=2)
PY

# 2. The phantom study's chosen assembly on the same runs (validation-fitted weights).
if (( ${#K3[@]} )); then
    stage fitted 20 30 python -m arcnn_lib fit-assembly --checkpoint "${K3[@]}" \
        --out "$OUT/reference/fitted_assembly.json"
else
    record fitted "skipped: no K = 3 run finished"
fi

# 3. The train-step benchmark at the paper configuration, on the then idle device.
BENCH=(python benchmarks/train_step.py)
if [ "$PROFILE" = smoke ]; then BENCH+=(--profile smoke --steps 2 --warmup 1); fi
stage benchmark_eager 50 60 "${BENCH[@]}" --json "$OUT/benchmark_train_step.json"
stage benchmark_compiled 80 120 "${BENCH[@]}" --compile --only a,b \
    --json "$OUT/benchmark_train_step_compile.json"

# 4. Where the K = 3 runs look on real hands, against the expert regions.
if [ -n "${ROIS:-}" ] && (( ${#K3[@]} )); then
    stage rois 100 30 python -m arcnn_lib expert-regions --checkpoint "${K3[@]}" \
        --data "$DATA" --rois "$ROIS" --out "$OUT/rsna100_rois" --figure-per-sex 8
else
    record rois "skipped: ROIS not set or no K = 3 run finished"
fi

echo "[gpu_reference] done in $(( $(date +%s) - T0 ))s"
cat "$OUT/status.json"
