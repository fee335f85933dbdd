"""Wall time of the engine on one network, the measurement behind ``sparseprop bench`` and
``benchmarks/peers.py``: one CPU instance, one thread, the first call's compilation untimed."""
import os
import platform
import sys
import time

from . import validate
from .runs.simulate import simulate
from .specification.models import LIF
from .specification.network import Network

K = 100
"""Out-degree of the reference network."""


def reference_network(n, k=K, seed=1):
    """The reference inhibitory LIF network of the benchmarks.

    ``sp.Network(model=sp.LIF(tau=0.01), n=n, k=k, j0=1.0, target_rate=1.0, seed=seed)``: the
    balanced state, drive I = 1 + tau sqrt(K) j0 nu, coupling J = -j0 / sqrt(K) (in units of
    threshold - reset), threshold 1, reset 0, no delay, no refractory period.

    Parameters
    ----------
    n : int
        Neurons, >= 2 and > ``k``.
    k : int
        Out-degree (targets per neuron), >= 1.
    seed : int
        Network seed (also the initial phases' seed).
    """
    k = validate.integer("k", k, 1, 2**31 - 2)
    n = validate.integer(f"n (more than k = {k})", n, max(2, k + 1), 2**31 - 1)
    return Network(model=LIF(tau=0.01), n=n, k=k, j0=1.0, target_rate=1.0, seed=seed)


def peak_mib():
    """Peak resident memory of this process so far (MiB; ``ru_maxrss``), None where the
    ``resource`` module is missing (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)   # bytes or KiB


def measure(net, t_end, repeat=1):
    """Simulate ``net`` to ``t_end`` on the CPU backend and time it.

    A run of 10 spikes first compiles the engine (or loads it from Numba's cache) and sets the
    network up; it is timed apart (``setup_s``). Then the run to ``t_end`` is timed ``repeat``
    times and the fastest kept, with ``record="summary"`` (counts only, O(N) memory).

    Parameters
    ----------
    net : Network or PopulationNetwork
    t_end : float
        Simulated time (s), > 0.
    repeat : int
        Timed runs, >= 1; the fastest is kept.

    Returns
    -------
    dict
        ``n``; ``t_sim`` simulated seconds; ``spikes`` network spikes; ``rate_hz`` mean rate
        (Hz); ``wall_s`` wall seconds of the run; ``setup_s`` wall seconds of the first call
        (compilation, connectivity, the 10 spikes); ``us_per_spike`` (µs of wall time per
        network spike); ``wall_per_sim_s`` (wall seconds per simulated second);
        ``spikes_per_s`` (network spikes per wall second); ``peak_mib`` (this process's peak
        resident memory so far, MiB).
    """
    t_end = validate.real("t_end (simulated seconds)", t_end, 0.0, float("inf"), low_open=True)
    repeat = validate.integer("repeat", repeat, 1, 1000)
    tick = time.perf_counter()
    simulate(net, n_spikes=10, record="summary")
    setup = time.perf_counter() - tick
    wall = float("inf")
    for _ in range(repeat):
        tick = time.perf_counter()
        rec = simulate(net, t_end=t_end, record="summary")
        wall = min(wall, time.perf_counter() - tick)
    spikes = int(rec.counts.sum())
    t_sim = float(rec.duration)
    return {"n": int(net.n), "t_sim": t_sim, "spikes": spikes,
            "rate_hz": spikes / net.n / t_sim, "wall_s": wall, "setup_s": setup,
            "us_per_spike": wall / max(spikes, 1) * 1e6, "wall_per_sim_s": wall / t_sim,
            "spikes_per_s": spikes / wall, "peak_mib": peak_mib()}


def machine():
    """One line: the date (UTC), ``platform.platform()``, the processor and ``os.cpu_count()``."""
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.platform()}; "
            f"{platform.processor() or platform.machine()}; os.cpu_count() = {os.cpu_count()}")
