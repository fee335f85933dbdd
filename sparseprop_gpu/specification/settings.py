"""Run settings: when a run stops, what it keeps, which queue key it uses; checked once."""
import math

import numpy as np

from .. import validate
from ..kernels import models as km
from ..options import KEYS, RECORD

UNLIMITED = 2**62
"""``n_spikes`` of a run that stops at ``t_end`` only."""


def check_run(t_end, n_spikes, warmup, record, key, network):
    """Validate the run settings for ``network``; returns (t_end, n_spikes, warmup, key) with
    the key resolved ("auto" becomes the fastest key the network allows)."""
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
    return t_end, n_spikes, warmup, resolve_key(key, network)


def resolve_key(key, network):
    """The key name a run of ``network`` uses for ``key`` (one of ``options.KEYS``)."""
    model = network.model
    exp_possible = model.exp_key and not isinstance(network.tau, np.ndarray)
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
