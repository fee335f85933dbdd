#!/usr/bin/env bash
# A/B, interleaved, one process per measurement: A = the checkout at $1 (its package on PYTHONPATH;
# a worktree of 0.1 needs `ln -s ../kernels sparseprop_gpu/kernels` first), B = this checkout's
# installed package. Writes JSON lines to ${2:-ab.jsonl}: {"side": "A"|"B", "r": {case: value}}.
# Cases after the output file run those only (default: the engine cases and "ensemble").
# The figures of docs/design.md §5.13 came from: git worktree add /tmp/base afcd3ec && bash ab.sh /tmp/base
# Those of §5.14: git worktree add /tmp/pre11 1fc3176 && bash ab.sh /tmp/pre11 ab11.jsonl ensemble simulate sweep
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
other=$1
out=${2:-ab.jsonl}
: > "$out"
cases=("${@:3}")
[ ${#cases[@]} -gt 0 ] || cases=("LIF 1e3 stored exp" "LIF 1e4 stored exp" "LIF 1e5 on-the-fly exp" "LIF 1e5 on-the-fly phase"
       "LIF 1e6 on-the-fly exp" "QIF 1e5 phase" "EIF 1e5 input map" "LIF 1e5 per-neuron drive time"
       "ensemble")
for case in "${cases[@]}"; do
  for _ in 1 2 3 4; do
    echo "{\"side\": \"A\", \"r\": $(cd /tmp && PYTHONPATH="$other" python3 "$here/ab_probe.py" "$case")}" >> "$out"
    echo "{\"side\": \"B\", \"r\": $(cd /tmp && python3 "$here/ab_probe.py" "$case")}" >> "$out"
  done
done
