"""Run settings: when a run stops, what it keeps, which queue key it uses; checked once."""
import math

import numpy as np

from .. import config, validate
from ..kernels import models as km
from ..options import KEYS, RECORD
from . import memory
from .populations import PopulationNetwork

UNLIMITED = 2**62
"""``n_spikes`` of a run that stops at ``t_end`` only."""


def check_run(t_end, n_spikes, warmup, record, key, network, table=None):
    """Validate the run settings for ``network``; returns (t_end, n_spikes, warmup, key) with
    the key resolved ("auto" becomes the fastest key the network allows).

    The spike times must resolve the shortest free period (``check_resolution``) of
    ``network``, or of every instance of ``table`` (an InstanceTable) where given. Without a
    table the run is one instance of ``network``, and its memory is checked too (an ensemble
    checks its batches itself).
    """
    if t_end is None and n_spikes is None:
        raise ValueError("give t_end (s) or n_spikes (or both) to say when to stop")
    t_end = math.inf if t_end is None else validate.real("t_end (s)", t_end, 0.0, math.inf,
                                                         low_open=True)
    n_spikes = UNLIMITED if n_spikes is None else validate.integer("n_spikes", n_spikes, 1,
                                                                   UNLIMITED)
    warmup = validate.real("warmup (s)", warmup, 0.0, math.inf)
    if warmup >= t_end:
        raise ValueError(f"warmup must be in [0, t_end) = [0, {t_end:g}); got {warmup:g}")
    validate.choice("record", record, RECORD)
    validate.choice("key", key, KEYS)
    key = resolve_key(key, network)
    source = network if table is None else table
    check_resolution(t_end, n_spikes, warmup, source.shortest_period(),
                     int(np.max(source.n if table is None else table.columns["n"])))
    if table is None:
        # a network of populations checks its stored connectivity when it is made
        populations = isinstance(network, PopulationNetwork)
        stored = network.connectivity == "stored" and not populations
        memory.check_run(f"n = {network.n}, k = {network.k} (one network)", 1, 1, network.n,
                         network.k, config.SPIKE_BUFFER,
                         (network.n, network.k) if stored else None, network.heterogeneous,
                         n_spikes if record == "spikes" and n_spikes < UNLIMITED else 0,
                         fifo=network.fifo_total() if populations else 1,
                         stimulus=len(network.stimulus or ()) + 1 if populations else 1)
    return t_end, n_spikes, warmup, key


def check_resolution(t_end, n_spikes, warmup, period, n):
    """Refuse a run whose float64 spike times cannot resolve the shortest free period.

    The last spike time is t_end, or for a run stopped by ``n_spikes`` alone at least
    max(warmup, n_spikes period / n) (no neuron fires faster than its free period). It must
    leave ``config.MIN_PERIOD_ULPS`` float64 steps in ``period`` (s).
    """
    if period == math.inf:              # every neuron quiescent: spikes come from inputs
        return
    last = t_end if math.isfinite(t_end) else max(warmup, n_spikes * period / n)
    if period >= config.MIN_PERIOD_ULPS * np.spacing(last):
        return
    longest = 2.0 ** (math.floor(math.log2(period / config.MIN_PERIOD_ULPS)) + 53) \
        if period > 0 else 0.0
    name = "t_end" if math.isfinite(t_end) else "n_spikes"
    raise ValueError(
        f"{name}: spike times up to {last:g} s are float64 values {np.spacing(last):.3g} s "
        f"apart, too coarse for the shortest free period of {period:.3g} s (at least "
        f"{config.MIN_PERIOD_ULPS:g} steps per period are needed to tell successive spikes "
        f"apart): run to t_end < {longest:.3g} s, or give a longer period (a smaller drive "
        "or a larger tau)")


def resolve_key(key, network):
    """The key name a run of ``network`` uses for ``key`` (one of ``options.KEYS``)."""
    model = network.model
    exp_possible = model.exp_key and not isinstance(network.tau, np.ndarray)
    if exp_possible and isinstance(network, PopulationNetwork) and \
            network.longest_delay() > config.EXP_KEY_MAX_DELAY * network.tau:
        if key == "exp":
            raise ValueError(f"key: 'exp' holds a delay as the factor e^(D / tau), which "
                             f"overflows for D > {config.EXP_KEY_MAX_DELAY:g} tau = "
                             f"{config.EXP_KEY_MAX_DELAY * network.tau:g} s; this network's "
                             f"longest delay is {network.longest_delay():g} s: use key='time'")
        exp_possible = False
    if getattr(network, "weights", None) is not None and key == "time":
        raise ValueError("key: a network with per-connection weights runs on the 'phase' or "
                         "'exp' key ('auto' picks), not 'time'")
    quiescent = getattr(network, "quiescent", ())
    if quiescent and not (exp_possible and key in ("auto", "exp")):
        raise ValueError(f"key: population {quiescent[0]!r} is quiescent (LIF driven at or "
                         "below threshold, I <= 1), which runs on the 'exp' key alone: give "
                         "every population one tau, delays up to "
                         f"{config.EXP_KEY_MAX_DELAY:g} tau, and key 'auto' or 'exp'")
    if key == "auto":
        return "exp" if exp_possible else "time" if network.heterogeneous else "phase"
    if network.heterogeneous and not (key == "time" or key == "exp" and exp_possible):
        raise ValueError("key must be 'time', 'auto' (or 'exp' for LIF with one tau) for a "
                         "network of heterogeneous neurons")
    if key == "exp" and not model.exp_key:
        raise ValueError(f"key must be 'phase' or 'auto' for the {model.name} model "
                         "(the exponential key exists for LIF only)")
    return key


def key_kind_of(key, network):
    """``kernels.models`` key constant of a resolved key name for ``network``."""
    if key == "exp" and network.heterogeneous:
        return km.KEY_EXP_TIME
    return {"exp": km.KEY_EXP, "phase": km.KEY_PHASE, "time": km.KEY_TIME}[key]
