#!/usr/bin/env bash
# Device check on a lent GPU machine (no network): install the project, run the one prepared script.
set -eu; cd "$(dirname "$0")/.." && python3 -m pip install -q --no-deps --no-build-isolation -e .
exec timeout 240 python3 benchmarks/device_check.py ${OUT:+--json "$OUT/device_check.json"} "$@"
