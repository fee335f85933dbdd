"""The exact gradients as a JAX function (the ``train`` extra; docs/design.md §2.19).

``spike_function(network, n_spikes)`` is a JAX function of the coupling J (or the weights W),
the drive I and the initial phases whose value is the engine's spike times, their senders and
the final phases, and whose VJP is ``runs.gradient.backward``: the loss and the optimiser are
ordinary JAX (optax) code; ``spike_times_of`` picks chosen neurons' first spikes for it. JAX is chosen over a home-made autodiff because a ``custom_vjp``
around host callbacks is all that is needed and it brings jit, vmap, optimisers and the users'
own models; the engine stays Numba.
"""
import math

import numpy as np

from . import validate
from .runs.gradient import Trajectory, backwards, check_tangent_network, default_segment, \
    trajectories, trajectory
from .specification.network import Network


def _network(base, coupling, drive, phases):
    """``base`` with the given coupling (a number, or the (n, k) weights of a weighted
    network), drive and initial phases."""
    given = {"weights": np.asarray(coupling, np.float64)} if base.weights is not None else \
        {"coupling": float(coupling)}
    return Network(model=base.model, n=base.n, k=base.k, seed=base.seed,
                   connectivity=base.connectivity, drive=float(drive),
                   targets=base.targets, t_ref=base.t_ref,
                   initial_phases=np.asarray(phases, np.float64), **given)


def _samples(*arrays):
    """The arrays of a call, batched by ``vmap`` (``broadcast_all``: every argument tiled to the
    same leading axes) or not, as a list of per-sample tuples and the leading shape."""
    lead = np.shape(arrays[-1])[:-1]                       # the phases are (..., n)
    count = math.prod(lead)
    flat = [np.array(a).reshape((count,) + np.shape(a)[len(lead):]) for a in arrays]
    return [tuple(a[b] for a in flat) for b in range(count)], lead


def _stacked(lead, rows):
    """Per-sample results (tuples of arrays) stacked back onto the leading shape."""
    return tuple(np.stack(column).reshape(lead + np.shape(column[0])) for column in zip(*rows))


def spike_function(network, n_spikes, segment=None):
    """A JAX function ``(coupling, drive, initial_phases) -> (times (S,), senders (S,),
    final_phases (n,))``; for a network with per-connection weights ``coupling`` is the (n, k)
    weights.

    Parameters
    ----------
    network : sp.Network
        The structure (model, n, k, seed, connectivity or ``targets``) every call runs; one
        population of LIF or QIF neurons, couplings of both signs, any t_ref.
    n_spikes : int
        S, the spikes of every run (the times in the engine's order; ``senders`` are integers,
        without a derivative).
    segment : int, optional
        As ``runs.gradient.trajectory``.

    The forward runs the engine (a ``jax.pure_callback``) and keeps its checkpoints as the
    VJP's residuals; the VJP replays the segments from them and takes the adjoint back
    (``runs.gradient.backward``): the gradient of the trajectory with its spike order fixed.
    ``jax.vmap`` over any argument runs one instance per sample (a mini-batch). Needs 64-bit
    JAX (``jax.config.update("jax_enable_x64", True)``).
    """
    import jax
    import jax.numpy as jnp

    check_tangent_network(network)
    size, n = validate.integer("n_spikes", n_spikes, 1, 10**12), network.n
    segment = default_segment(network, size) if segment is None else \
        validate.integer("segment (spikes)", segment, 1, 10**12)
    pieces = -(-size // segment)
    weighted = network.weights is not None
    f64 = jnp.float64
    outputs = (jax.ShapeDtypeStruct((size,), f64), jax.ShapeDtypeStruct((size,), jnp.int32),
               jax.ShapeDtypeStruct((n,), f64))
    residuals = outputs + (jax.ShapeDtypeStruct((pieces,), f64),
                           jax.ShapeDtypeStruct((pieces, n), f64))
    grads = (jax.ShapeDtypeStruct(network.weights.shape if weighted else (), f64),
             jax.ShapeDtypeStruct((), f64), jax.ShapeDtypeStruct((n,), f64))

    def kept(run):
        return (run.times, run.senders, run.final_phases,
                np.array([t0 for _, t0, _ in run.checkpoints]),
                np.stack([offsets for _, _, offsets in run.checkpoints]))

    def run(coupling, drive, phases):
        samples, lead = _samples(coupling, drive, phases)
        first = samples[0]
        if all(np.array_equal(c, first[0]) and d == first[1] for c, d, _ in samples[1:]):
            runs = trajectories(_network(network, *first), [p for _, _, p in samples], size,
                                segment)                # a mini-batch: one ensemble
        else:
            runs = [trajectory(_network(network, *sample), size, segment) for sample in samples]
        return _stacked(lead, [kept(r) for r in runs])

    def pull(*arrays):
        samples, lead = _samples(*arrays)
        runs = [Trajectory(_network(network, c, d, p), t, s, f,
                           [(i * segment, starts[i], offsets[i]) for i in range(pieces)],
                           segment, int(np.sum(np.diff(t) == 0.0)))
                for c, d, p, t, s, f, starts, offsets, _, _ in samples]
        grads = backwards(runs, [sample[8] for sample in samples],
                          [sample[9] for sample in samples], per_synapse=weighted, drives=True)
        return _stacked(lead, [(g.synapses if weighted else np.float64(g.coupling),
                                np.float64(g.drives.sum()), g.initial_phases) for g in grads])

    def check_x64():
        if not jax.config.jax_enable_x64:
            raise ValueError("spike_function needs 64-bit JAX: jax.config.update("
                             "'jax_enable_x64', True) before calling it (spike times to 1e-12 s)")

    @jax.custom_vjp
    def spikes(coupling, drive, phases):
        check_x64()
        return jax.pure_callback(run, residuals, coupling, drive, phases,
                                 vmap_method="broadcast_all")[:3]

    def forward(coupling, drive, phases):
        check_x64()
        kept = jax.pure_callback(run, residuals, coupling, drive, phases,
                                 vmap_method="broadcast_all")
        return kept[:3], (coupling, drive, phases) + tuple(kept)

    def reverse(saved, cotangents):
        dl_dt, _, dl_dphi = cotangents          # the senders' cotangent is float0: no derivative
        return jax.pure_callback(pull, grads, *saved, dl_dt, dl_dphi,
                                 vmap_method="broadcast_all")

    spikes.defvjp(forward, reverse)
    return spikes


def spike_times_of(times, senders, neurons, count=1, missing=None):
    """The first ``count`` spike times of each of ``neurons``, as a JAX function of the times
    (the derivative flows to the chosen spikes only).

    Parameters
    ----------
    times, senders : jax arrays (..., S)
        ``spike_function``'s times (s) and senders (any leading axes, e.g. a mini-batch).
    neurons : array_like of int (R,)
    count : int
        Spikes per neuron, m >= 1.
    missing : float or jax array broadcasting to (..., R, m), optional
        The time given where a neuron fired fewer than m spikes (default: the run's last spike
        time, ``times[..., -1]``; its derivative then flows there).

    Returns
    -------
    jax array (..., R, m)
    """
    import jax.numpy as jnp

    count = validate.integer("count (spikes per neuron)", count, 1, 2**31 - 1)
    neurons = jnp.asarray(neurons)
    if missing is None:
        missing = times[..., -1][..., None]
    hit = senders[..., None, :] == neurons[:, None]           # (..., R, S)
    rank = jnp.cumsum(hit, axis=-1)                            # which of its spikes this is
    picked = []
    for m in range(count):
        at = hit & (rank == m + 1)
        picked.append(jnp.where(at.any(-1), jnp.sum(jnp.where(at, times[..., None, :], 0.0), -1),
                                missing))
    return jnp.stack(picked, axis=-1)
