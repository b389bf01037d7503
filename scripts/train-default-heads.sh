#!/usr/bin/env bash
# Reproduces the shipped heads (Sources/AutoDeco/DefaultHeads/smollm2-135m-instruct-arithmetic) from
# scratch on the default model: rejection-sampled answers to arithmetic training problems, a short
# learning-rate comparison on the dev loss, then the training run whose heads are shipped. The dev and
# test splits are used only for held-out metrics. Every step resumes if the script is run again.
# Usage: scripts/train-default-heads.sh [WORKDIR]   (default work/default-heads, ignored by git)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-work/default-heads}
DATA=../shared/data/arithmetic
mkdir -p "$WORK"
swift build -c release --product autodeco
AD=.build/release/autodeco

# Problems: both one-digit tasks (train splits) and the first 140 problems of the 2-3 term task;
# held out: the dev and test splits of the one-digit tasks.
cat $DATA/add-2t1d.train.jsonl $DATA/chain-sum-2t1d.train.jsonl <(head -n 140 $DATA/chain-sum-3t1-2d.train.jsonl) > "$WORK/problems.train.jsonl"
cat $DATA/add-2t1d.dev.jsonl $DATA/chain-sum-2t1d.dev.jsonl > "$WORK/problems.dev.jsonl"
cat $DATA/add-2t1d.test.jsonl $DATA/chain-sum-2t1d.test.jsonl > "$WORK/problems.test.jsonl"

SAMPLE="--samples 4 --temperature 0.7 --top-p 1.0 --max-tokens 256"
$AD data sample --problems "$WORK/problems.train.jsonl" $SAMPLE --seed 1 --out "$WORK/train.jsonl"
$AD data sample --problems "$WORK/problems.dev.jsonl" $SAMPLE --seed 2 --out "$WORK/dev.jsonl"
$AD data sample --problems "$WORK/problems.test.jsonl" $SAMPLE --seed 3 --out "$WORK/test.jsonl"

resume() { [ -f "$1/trainer.state" ] && echo --resume || true; }

# Learning rate: one epoch per candidate, judged by the dev-set loss (log.jsonl, dev_loss_*).
for LR in 5e-4 2e-3 8e-3; do
  [ -f "$WORK/lr-$LR/report.json" ] || $AD train --data "$WORK/train.jsonl" --dev "$WORK/dev.jsonl" --out "$WORK/lr-$LR" \
      --lr $LR --epochs 1 --eval-every 10 --seed 1 $(resume "$WORK/lr-$LR")
done
for LR in 5e-4 2e-3 8e-3; do
  echo "lr $LR: last dev loss: $(grep dev_loss "$WORK/lr-$LR/log.jsonl" | tail -1)"
done

# The shipped heads: the default settings (lr 2e-3, 4 epochs), bf16 copy into the package.
[ -f "$WORK/heads/report.json" ] || $AD train --data "$WORK/train.jsonl" --dev "$WORK/dev.jsonl" --test "$WORK/test.jsonl" \
    --out "$WORK/heads" --seed 1 $(resume "$WORK/heads")
OUT=Sources/AutoDeco/DefaultHeads/smollm2-135m-instruct-arithmetic
$AD heads convert "$WORK/heads" --dtype bf16 --out "$OUT"
cp "$WORK/heads/loss.svg" "$WORK/heads/report.md" "$OUT/"
