#!/usr/bin/env bash
# Device check on a lent GPU machine (no network): install the project, run the one prepared script.
set -eu; cd "$(dirname "$0")/.." && python3 -m pip install -q --no-deps --no-build-isolation -e .
timeout 240 python3 benchmarks/device_check.py ${OUT:+--json "$OUT/device_check.json"} "$@" || rc=$?
# the table models' kernel (EIF through its input map): the small size only
timeout 120 python3 benchmarks/device_check.py --model eif --sizes 1024 --block-sizes '' \
    ${OUT:+--json "$OUT/device_check_eif.json"} "$@" || rc=$?
# the population kernel (E/I, delays, refractoriness): the small size only
timeout 100 python3 benchmarks/device_check.py --model ei --sizes 1024 --block-sizes '' \
    ${OUT:+--json "$OUT/device_check_ei.json"} "$@" || rc=$?
# the population kernel with Poisson input onto neurons at rest (Brunel's model A): small only
timeout 100 python3 benchmarks/device_check.py --model brunel --sizes 1024 --block-sizes '' \
    ${OUT:+--json "$OUT/device_check_brunel.json"} "$@" || rc=$?
exit ${rc:-0}
