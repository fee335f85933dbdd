"""External input to a network of populations: Poisson drive per population and stimulus events
(docs/design.md §2.15).

``PoissonInput`` gives every neuron of a population ``sources`` independent Poisson spike
trains of one rate and weight (Brunel's C_ext nu_ext); ``Stimulus`` is a list of exact input
events (time, target neuron, weight), given as such or made from the spike trains of input
neurons and their targets (``Stimulus.from_trains``).
"""
import hashlib
import math
from collections import namedtuple

import numpy as np

from .. import validate
from . import memory

PoissonInput = namedtuple("PoissonInput", "target rate weight sources", defaults=(1,))
PoissonInput.__doc__ = """Poisson input onto every neuron of population ``target`` (a name).

rate : float
    The rate of each source (Hz), >= 0 (0: none).
weight : float
    The voltage jump J of each input (the target model's units), finite and non-zero: > 0
    excitatory, < 0 inhibitory.
sources : int
    Independent sources per neuron (C_ext), >= 1: each neuron receives a Poisson process of
    rate ``sources * rate``.
"""

STIMULUS_BYTES = 20
"""Engine bytes per stimulus event and instance: time, target, kick."""


class Stimulus:
    """Input events at exact times: event e gives neuron ``targets[e]`` the voltage jump
    ``weights[e]`` at ``times[e]``.

    Parameters
    ----------
    times : array_like (E,)
        Event times (s from the run's start), finite, >= 0, non-decreasing. Events at one
        instant are applied in the order given (their inputs sum before the threshold test).
    targets : array_like of int (E,)
        Target neurons, numbered across the network's populations (``pop_start``).
    weights : float or array_like (E,)
        Voltage jumps (the target model's units), finite and non-zero.
    """

    def __init__(self, times, targets, weights):
        times = np.asarray(times, dtype=float) if np.size(times) else np.zeros(0)
        self.times = validate.finite_array("stimulus times (s)", times, (times.shape[0],))
        e = self.times.shape[0]
        if e and (self.times[0] < 0.0 or np.any(np.diff(self.times) < 0.0)):
            at = 0 if self.times[0] < 0.0 else int(np.argmax(np.diff(self.times) < 0.0)) + 1
            raise ValueError(f"stimulus times (s) must be >= 0 and non-decreasing; event {at} is "
                             f"at {self.times[at]!r} s" + (f", after {self.times[at - 1]!r} s"
                                                            if at else ""))
        targets = np.asarray(targets)
        if targets.shape != (e,) or (e and targets.dtype.kind not in "iu"):
            raise ValueError(f"stimulus targets must be {e} integer neuron indices, one per "
                             f"event; got {targets.dtype} of shape {targets.shape}")
        self.targets = targets.astype(np.int64)
        self.weights = validate.finite_array("stimulus weights", np.broadcast_to(
            np.asarray(weights, dtype=float), (e,)), (e,))
        if np.any(self.weights == 0.0):
            raise ValueError(f"stimulus weights must be non-zero; event "
                             f"{int(np.argmax(self.weights == 0.0))} has 0")
        memory.check(f"stimulus: {e} events", STIMULUS_BYTES * e,
                     "fewer stimulus events per instance")

    @classmethod
    def from_trains(cls, trains, targets, weight):
        """The events of input neurons: input neuron i spikes at ``trains[i]`` (s) and each of
        its spikes reaches every neuron of ``targets[i]`` with ``weight`` (one value, or one
        per input neuron).

        Events are in time order; at one instant in the order of the input neurons, then of
        their targets.
        """
        trains = [np.asarray(t, dtype=float).reshape(-1) for t in trains]
        targets = [np.asarray(t).reshape(-1) for t in targets]
        if len(trains) != len(targets):
            raise ValueError(f"from_trains: {len(trains)} spike trains but {len(targets)} target "
                             "lists; give one target list per input neuron")
        weight = np.broadcast_to(np.asarray(weight, dtype=float), (len(trains),))
        for i, train in enumerate(trains):
            validate.finite_array(f"trains[{i}] (s)", train, train.shape)
            if np.any(np.diff(train) < 0.0):
                raise ValueError(f"trains[{i}] must be in time order (non-decreasing)")
        times = [np.repeat(t, len(tg)) for t, tg in zip(trains, targets)]
        hit = [np.tile(tg, len(t)) for t, tg in zip(trains, targets)]
        kicks = [np.full(len(t) * len(tg), w) for t, tg, w in zip(trains, targets, weight)]
        times = np.concatenate(times) if times else np.zeros(0)
        order = np.argsort(times, kind="stable")
        join = (lambda parts, dtype: np.concatenate(parts)[order] if parts else
                np.zeros(0, dtype))
        return cls(times[order], join(hit, np.int64), join(kicks, float))

    @classmethod
    def from_block(cls, trains, targets, k, weight, seed=0):
        """The events of input neurons connected to a population by a random block: input
        neuron i spikes at ``trains[i]`` (s) and reaches ``k`` distinct neurons drawn from
        ``targets`` (e.g. ``net.neurons("E")``) with ``weight``, drawn by
        ``numpy.random.default_rng(seed)`` (the same block for the same seed).
        """
        targets = np.asarray(targets).reshape(-1)
        k = validate.integer("k (targets per input neuron)", k, 1, max(targets.size, 1))
        if targets.size == 0 or targets.dtype.kind not in "iu":
            raise ValueError("from_block: targets must be a non-empty range of neuron indices")
        rng = np.random.default_rng(validate.integer("seed", seed, 0, 2**63 - 1))
        drawn = [np.sort(rng.choice(targets, k, replace=False)) for _ in trains]
        return cls.from_trains(trains, drawn, weight)

    def check(self, n):
        """Raise ValueError unless every target is a neuron of a network of ``n``."""
        if self.targets.size and (self.targets.min() < 0 or self.targets.max() >= n):
            bad = int(np.argmax((self.targets < 0) | (self.targets >= n)))
            raise ValueError(f"stimulus targets must be neurons 0 .. {n - 1} of the network; "
                             f"event {bad} targets {int(self.targets[bad])}")
        return self

    def __len__(self):
        return self.times.shape[0]

    def describe(self):
        """Plain-data summary for records and stores (the events themselves are not kept; their
        digest tells a continuation given another stimulus)."""
        digest = hashlib.sha256(self.times.tobytes() + self.targets.tobytes()
                                + self.weights.tobytes()).hexdigest()[:16]
        return {"events": len(self), "first": float(self.times[0]) if len(self) else None,
                "last": float(self.times[-1]) if len(self) else None, "sha256": digest}

    def __repr__(self):
        return f"Stimulus({len(self)} events)"


def check_poisson(inputs, names):
    """The Poisson inputs ``inputs`` (PoissonInput or tuples) as a dict population index ->
    (rate per source (Hz), weight, sources), checked against the population ``names``."""
    out = {}
    for given in inputs:
        p = given if isinstance(given, PoissonInput) else PoissonInput(*given)
        if p.target not in names:
            raise ValueError(f"Poisson input: unknown target population {p.target!r}; the "
                             f"populations are {', '.join(names)}")
        what = f"Poisson input onto {p.target}"
        b = names.index(p.target)
        if b in out:
            raise ValueError(f"{what} is given twice; one Poisson input per population")
        rate = validate.real(f"{what}: rate (Hz per source)", p.rate, 0.0, math.inf)
        weight = validate.real(f"{what}: weight (a non-zero voltage jump)", p.weight)
        if weight == 0.0:
            raise ValueError(f"{what}: weight must be non-zero (> 0 excitatory, < 0 inhibitory)")
        sources = validate.integer(f"{what}: sources (C_ext)", p.sources, 1, 2**31 - 1)
        out[b] = (rate, weight, sources)
    return out
