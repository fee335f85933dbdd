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

CHECKPOINT_SECONDS = 60.0
"""``simulate(..., checkpoint=path)`` saves the run at most this often (s of wall time): a
killed run loses at most this much work, and a record with every spike is not rewritten so
often that writing dominates."""

FIRST_SEGMENT = 100_000
"""Spikes recorded in a checkpointed run's first segment; later ones aim at
CHECKPOINT_SECONDS."""

THREADS_PER_BLOCK = 64
"""CUDA threads (instances) per block. Not yet measured on a GPU (``benchmarks/device_check.py``
sweeps it)."""

# ---- specification
EXP_KEY_MAX_DELAY = 400.0
"""The longest delay (in units of tau) the exp-time key takes: it holds an arrival as G e^(D / tau)
with G up to 2^64 I/(I - 1) e^(t_ref / tau), which overflows float64 near D = 665 tau; "auto"
takes the time key for longer delays."""

MAX_RATE_HZ = 1000.0
"""The rate (Hz) that sizes the FIFOs of spikes in flight of a population without a refractory
period (``PopulationNetwork.fifo_slots``; with t_ref > 0, 1 / t_ref bounds it exactly). 1 kHz
is above the rates of cortical models; a run that outgrows it stops with an error naming
``max_rate``."""

STORED_BELOW = 100_000
"""``connectivity="auto"`` stores the (N, K) target table below this many neurons and draws
targets on the fly above: stored is faster while the table fits in cache (1e4: 3.86 against
6.55 ns per event), on the fly at 1e5 and beyond (6.50 against 7.20)."""

MAX_DRIVES = 16
"""Distinct drives (one lookup table each) of a table model's network with per-neuron drive."""

# ---- summaries
FANO_WINDOW = 0.1
"""Counting window (s) of the per-population Fano factor that results and stores keep
(``fano_mean_<population>``, ``runs.summaries``): 100 ms is the window conventional for the
spike-count variability of cortical-like rates (a few to tens of Hz: about one spike per window),
short enough that a run of a few seconds gives tens of windows. A run whose window is shorter
than two of them has NaN."""

# ---- sweep store
NEURON_CHUNK_BYTES = 1 << 24
"""Per-neuron arrays of a sweep store: chunks of a batch's rows and at most this many bytes."""

SMALL_CHUNK_BYTES = 1 << 20
"""A finished store's arrays whose chunks are smaller than this are rewritten ..."""

FINAL_CHUNK_BYTES = 1 << 23
"""... into chunks of about this many bytes (2**20 float64)."""

BATCHES_PER_WORKER = 4
"""The embedded Dask cluster starts at most one worker per this many batches."""

# ---- precision (docs/design.md §2.11)
LIF_MAX_DRIVE = 2.0**20
"""Largest LIF drive I. The LIF keys hold a phase to about I x 2.2e-16 of a free period (the exp
keys are products G e^(-phi / omega) with phi / omega < 1 / omega ~ 1 / I; the phase key's
transition curve takes the log of a number within O(1 / I) of 1): at 2**20 that is 2.3e-10."""

DRIVE_RTOL = 2.0**-30
"""The balanced LIF drive I = 1 + I_ext must keep I_ext to this relative precision (9.3e-10),
which needs I_ext >= 2**-23 (1.2e-7): below, 1 + I_ext rounds away the digits that set the
period, and the network would silently not be the one asked for."""

MIN_PERIOD_ULPS = 2.0**20
"""The shortest free period must span at least this many float64 steps (ulps) of the run's
last spike time (t_end): spike times are float64 seconds, and a shorter period leaves a
neuron's successive spikes less than 1e-6 of a period apart in resolution (at 1 ulp, equal)."""

# ---- memory (docs/design.md §3.10)
MEMORY_FRACTION = 0.8
"""A request (an instance table, a target table, a batch's engine state and results) may take
at most this fraction of the memory available when it is checked (MemAvailable on Linux; the
free device memory for CUDA): above it, it is refused with the estimate and the alternatives
before anything is allocated."""

LOCK_HEARTBEAT_S = 10.0
"""A sweep refreshes the lock of its store this often (s): one small write, negligible."""

LOCK_STALE_S = 120.0
"""A lock whose heartbeat is older than this (s) is stale and may be taken over: twelve missed
heartbeats, so a client stalled by a slow file system or a long garbage collection keeps its
store, while a sweep killed on another host (whose pid cannot be checked) blocks it for two
minutes at most. On the lock's own host a dead pid makes it stale at once."""

SCHEDULER_TIMEOUT_S = 5.0
"""Seconds to connect to a ``--scheduler`` before the sweep is refused (Dask's default is 30):
a scheduler on the network answers in well under a second, so a longer wait only delays the
message that it is not there."""
