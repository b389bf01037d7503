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
cat $DATA/add-2t1d.train.jsonl $DATA/chain-sum-2t1d.train.jsonl <(head -n 240 $DATA/chain-sum-3t1-2d.train.jsonl) > "$WORK/problems.train.jsonl"
cat $DATA/add-2t1d.dev.jsonl $DATA/chain-sum-2t1d.dev.jsonl <(head -n 60 $DATA/chain-sum-3t1-2d.dev.jsonl) > "$WORK/problems.dev.jsonl"
cat $DATA/add-2t1d.test.jsonl $DATA/chain-sum-2t1d.test.jsonl <(head -n 60 $DATA/chain-sum-3t1-2d.test.jsonl) > "$WORK/problems.test.jsonl"

SAMPLE="--samples 4 --temperature 0.7 --top-p 1.0 --max-tokens 256"
$AD data sample --problems "$WORK/problems.train.jsonl" $SAMPLE --seed 1 --out "$WORK/train.jsonl"
$AD data sample --problems "$WORK/problems.dev.jsonl" $SAMPLE --seed 2 --out "$WORK/dev.jsonl"
$AD data sample --problems "$WORK/problems.test.jsonl" $SAMPLE --seed 3 --out "$WORK/test.jsonl"
