#!/usr/bin/env bash
# Reproduces the shipped heads (heads/smollm2-135m-instruct-arithmetic) from scratch on the
# default model: rejection-sampled data from the arithmetic training splits (dev and test
# splits only for held-out evaluation), then training. Usage: scripts/train-default-heads.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-work/default-heads}
DATA=../shared/data/arithmetic
mkdir -p "$WORK"
swift build -c release --product autodeco
AD=.build/release/autodeco

# Problem sets: all of the two one-digit tasks, the first N problems of the 2-3 term task.
cat $DATA/add-2t1d.train.jsonl $DATA/chain-sum-2t1d.train.jsonl <(head -n 140 $DATA/chain-sum-3t1-2d.train.jsonl) > "$WORK/problems.train.jsonl"
cat $DATA/add-2t1d.dev.jsonl $DATA/chain-sum-2t1d.dev.jsonl <(head -n 24 $DATA/chain-sum-3t1-2d.dev.jsonl) > "$WORK/problems.dev.jsonl"
cat $DATA/add-2t1d.test.jsonl $DATA/chain-sum-2t1d.test.jsonl <(head -n 24 $DATA/chain-sum-3t1-2d.test.jsonl) > "$WORK/problems.test.jsonl"

SAMPLE="--samples 4 --temperature 0.7 --top-p 1.0 --max-tokens 256"
$AD data sample --problems "$WORK/problems.train.jsonl" $SAMPLE --seed 1 --out "$WORK/train.jsonl"
$AD data sample --problems "$WORK/problems.dev.jsonl" $SAMPLE --seed 2 --out "$WORK/dev.jsonl"
$AD data sample --problems "$WORK/problems.test.jsonl" $SAMPLE --seed 3 --out "$WORK/test.jsonl"

# Learning rate: a short run per candidate, judged by the dev-set loss (log.jsonl, dev_loss_*).
for LR in 5e-4 2e-3 8e-3; do
  [ -f "$WORK/lr-$LR/report.json" ] || $AD train --data "$WORK/train.jsonl" --dev "$WORK/dev.jsonl" --out "$WORK/lr-$LR" \
      --lr $LR --epochs 2 --eval-every 10 --seed 1 $( [ -f "$WORK/lr-$LR/trainer.state" ] && echo --resume )
done
for LR in 5e-4 2e-3 8e-3; do
  echo "lr $LR: last dev loss: $(grep dev_loss "$WORK/lr-$LR/log.jsonl" | tail -1)"
done

# The shipped heads: the default settings (lr 2e-3, 4 epochs), bf16 copy into the package.
[ -f "$WORK/heads/report.json" ] || $AD train --data "$WORK/train.jsonl" --dev "$WORK/dev.jsonl" --test "$WORK/test.jsonl" \
    --out "$WORK/heads" --seed 1 $( [ -f "$WORK/heads/trainer.state" ] && echo --resume )
$AD heads convert "$WORK/heads" --dtype bf16 --out Sources/AutoDeco/DefaultHeads/smollm2-135m-instruct-arithmetic
cp "$WORK/heads/loss.svg" "$WORK/heads/report.md" Sources/AutoDeco/DefaultHeads/smollm2-135m-instruct-arithmetic/
