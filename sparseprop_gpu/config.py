"""Tunables: every number the code was tuned to, in one place, with the reason it has its value.

The measurements behind them are in ``docs/design.md`` §5 (decisions and measurements).
"""

# ---- engine
FAN_BITS = 5
"""log2 of the priority queue's fan-out: 32 children per node. Measured at N = 1e5, K = 100
(ns per synaptic event): fan-out 8: 8.47, 16: 6.86, 32: 6.40, 64: 6.48."""

SUMMARY_BUFFER = 4096
"""Spikes buffered per instance between two batches of statistics when none are kept: the
per-neuron rows of different neurons are independent, so their cache misses overlap."""

SPIKE_BUFFER = 1 << 18
"""Spikes drained per launch by ``simulate`` when the record is kept (2 MiB of times)."""

ENSEMBLE_SPIKE_BUFFER = 4096
"""Spikes per instance per launch of ``run_ensemble`` with ``record="spikes"``: memory is
M x this, and the host drains and relaunches."""

REBASE_PERIODS = 16
"""Time key: rebase the global time after this many free periods of the slowest neuron."""

FIRST_LAUNCH = 20_000
"""Network spikes per instance in a run's first launch; later launches aim at LAUNCH_SECONDS."""

LAUNCH_SECONDS = 0.25
"""Wall time per launch (s), so that the progress bar moves and a launch stays short."""

PROGRESS_AFTER = 2.0
"""Show a progress bar once a run is predicted to last longer than this (s)."""

THREADS_PER_BLOCK = 64
"""CUDA threads (instances) per block. Not yet measured on a GPU (``benchmarks/device_check.py``
sweeps it)."""

# ---- specification
STORED_BELOW = 100_000
"""``connectivity="auto"`` stores the (N, K) target table below this many neurons and draws
targets on the fly above: stored is faster while the table fits in cache (1e4: 3.86 against
6.55 ns per event), on the fly at 1e5 and beyond (6.50 against 7.20)."""

MAX_DRIVES = 16
"""Distinct drives (one lookup table each) of a table model's network with per-neuron drive."""

# ---- sweep store
NEURON_CHUNK_BYTES = 1 << 24
"""Per-neuron arrays of a sweep store: chunks of a batch's rows and at most this many bytes."""

SMALL_CHUNK_BYTES = 1 << 20
"""A finished store's arrays whose chunks are smaller than this are rewritten ..."""

FINAL_CHUNK_BYTES = 1 << 23
"""... into chunks of about this many bytes (2**20 float64)."""

BATCHES_PER_WORKER = 4
"""The embedded Dask cluster starts at most one worker per this many batches."""
