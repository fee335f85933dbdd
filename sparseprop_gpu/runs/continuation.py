"""Continuing a run: the state a run stopped in, and the checks that the run continuing it
is the same run.

A record (or an ensemble's Dataset) keeps, besides its statistics, the queue key of every
neuron, the time origin and each neuron's last spike time: with the record's counts and ISI
sums, that is the engine's whole carried state (``engine.layout.CARRIED``). A run given it
goes on from there, bitwise as if it had never stopped; its result covers the whole run.
"""
import numpy as np

from ..engine.layout import EXTERNAL, IN_FLIGHT, PER_NEURON_STATE
from ..specification.settings import UNLIMITED

STATE = ("keys", "clock", "last_spike")
"""A record's final state, beside its counts and ISI sums; its files name them ``state_*``."""
MORE_STATE = PER_NEURON_STATE + IN_FLIGHT + EXTERNAL
"""What a record's state also holds where its run had it: each neuron's end of refractoriness
(t_ref > 0; since 0.4), the exact keys of neurons past threshold (excitation; since 0.5), the
quiescent neurons' gaps to rest (since 0.7), the spikes in flight of a network of populations
(since 0.4) and where its external input stands (since 0.6)."""

IGNORED = ("connectivity", "j0", "target_rate")
"""Network description entries a continuation need not repeat: stored and on-the-fly targets
are the same network, and j0 and target_rate are one way of giving the drive and coupling,
which are compared."""


def final_state(carried, m, n):
    """Instance ``m``'s final state (``STATE`` and, where the run has them, ``MORE_STATE``,
    by name) from ``Executed.carried``."""
    out = {"keys": carried["keys"][m, :n].copy(), "clock": carried["clock"][m].copy(),
           "last_spike": carried["isi"][m, :n, 0].copy()}
    out.update({name: carried[name][m, :n].copy() for name in PER_NEURON_STATE
                if carried[name].shape[1] > 1})         # some instance has the feature
    out.update({name: carried[name][m].copy() for name in IN_FLIGHT + EXTERNAL
                if name in carried})
    return out


def carried_state(counts, isi_sum, isi_sumsq, state):
    """The engine state (``Executed.carried``'s arrays, (M, ...)) that records' ``counts``,
    ISI sums and final ``state`` (each (M, n_max), ``clock`` (M, 2), and any of
    ``MORE_STATE``) describe."""
    out = {"keys": np.asarray(state["keys"], np.float64),
           "clock": np.asarray(state["clock"], np.float64),
           "counts": np.asarray(counts, np.int64),
           "isi": np.stack([state["last_spike"], isi_sum, isi_sumsq], axis=-1)}
    out.update({name: np.asarray(state[name]) for name in MORE_STATE if name in state})
    return out


def settings(previous, warmup, record, key):
    """(warmup, record, key) of a run continuing the one ``previous`` describes (a dict with
    ``t_start`` and ``meta``): each None takes the previous run's, a given one must equal it."""
    ours = {"warmup": previous["t_start"], "record": previous["meta"].get("record"),
            "key": previous["meta"].get("key")}
    given = {"warmup": warmup, "record": record, "key": key}
    for name, value in given.items():
        if value is not None and value != "auto" and value != ours[name]:
            raise ValueError(f"{name} must be {ours[name]!r}, the continued run's, or left out; "
                             f"got {value!r}")
    return ours["warmup"], ours["record"], ours["key"]


def check_network(meta, description):
    """Raise ValueError naming the first entry where ``description`` (``Network.describe()``)
    differs from the continued run's ``meta``."""
    for name, value in description.items():
        if name in IGNORED:
            continue
        if meta.get(name) != _plain(value):
            raise ValueError(f"continue_from: the run continued has {name} = "
                             f"{meta.get(name)!r}, this network {value!r}; continue a run with "
                             "the network it ran")


def check_stop(t_stop, reached_end, recorded, t_end, n_spikes):
    """Raise ValueError unless the stop (``t_end`` s, ``n_spikes`` recorded spikes in all)
    lies beyond where the continued run stopped (at ``t_stop`` s, after ``recorded`` spikes;
    ``reached_end``: it stopped at its t_end)."""
    if reached_end and t_end <= t_stop:
        raise ValueError(f"t_end must be above {t_stop:g} s, where the continued run stopped; "
                         f"got {t_end:g}")
    if not reached_end and t_end < t_stop:
        raise ValueError(f"t_end must be at least {t_stop:g} s, the continued run's last spike; "
                         f"got {t_end:g}")
    if n_spikes <= recorded:
        raise ValueError(f"n_spikes counts the whole run and must be above {recorded}, the "
                         f"spikes the continued run recorded; got {n_spikes}")


def finite(t_end):
    """``t_end`` (s) as a record's metadata keeps it: None for no end time."""
    return None if np.isinf(t_end) else float(t_end)


def remaining(n_spikes, recorded):
    """Spikes still to record (per instance) of a run of ``n_spikes`` in all (``UNLIMITED``
    stays unlimited) that has recorded ``recorded``."""
    return np.where(n_spikes >= UNLIMITED, n_spikes, n_spikes - np.asarray(recorded))


def _plain(value):
    """``value`` as a record's JSON metadata holds it."""
    import json
    return json.loads(json.dumps(value))
