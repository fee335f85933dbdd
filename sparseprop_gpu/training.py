"""The exact gradients as a JAX function (the ``train`` extra; docs/design.md §2.19).

``spike_function(network, n_spikes)`` is a JAX function of the coupling J, the drive I and the
initial phases whose value is the engine's spike times and final phases, and whose VJP is
``runs.gradient.backward``: the loss and the optimiser are ordinary JAX (optax) code. JAX is
chosen over a home-made autodiff because a ``custom_vjp`` around host callbacks is all that is
needed and it brings jit, optimisers and the users' own models; the engine stays Numba.
"""
import numpy as np

from .runs.gradient import backward, check_tangent_network, trajectory
from .specification.network import Network


def _network(base, coupling, drive, phases):
    """``base`` with the given coupling (a number, or the (n, k) weights of a weighted
    network), drive and initial phases."""
    given = {"weights": np.asarray(coupling, np.float64)} if base.weights is not None else \
        {"coupling": float(coupling)}
    return Network(model=base.model, n=base.n, k=base.k, seed=base.seed,
                   connectivity=base.connectivity, drive=float(drive),
                   initial_phases=np.asarray(phases, np.float64), **given)


def spike_function(network, n_spikes, segment=None):
    """A JAX function ``(coupling, drive, initial_phases) -> (times (S,), final_phases (n,))``;
    for a network with per-connection weights ``coupling`` is the (n, k) weights.

    Parameters
    ----------
    network : sp.Network
        The structure (model, n, k, seed, connectivity) every call runs; one population of LIF
        or QIF neurons, inhibitory, t_ref = 0.
    n_spikes : int
        S, the spikes of every run (the times in the engine's order).
    segment : int, optional
        As ``runs.gradient.trajectory``.

    The function runs the engine (a ``jax.pure_callback``); its VJP runs it again and takes the
    adjoint back (``runs.gradient.backward``): the gradient of the trajectory with its spike
    order fixed. Needs 64-bit JAX (``jax.config.update("jax_enable_x64", True)``).
    """
    import jax
    import jax.numpy as jnp

    check_tangent_network(network)
    size, n = int(n_spikes), network.n
    shapes = (jax.ShapeDtypeStruct((size,), jnp.float64), jax.ShapeDtypeStruct((n,), jnp.float64))

    def run(coupling, drive, phases):
        kept = trajectory(_network(network, coupling, drive, phases), size, segment)
        return kept.times.copy(), kept.final_phases.copy()

    weighted = network.weights is not None

    def pull(coupling, drive, phases, dl_dt, dl_dphi):
        kept = trajectory(_network(network, coupling, drive, phases), size, segment)
        grad = backward(kept, np.asarray(dl_dt), np.asarray(dl_dphi), per_synapse=weighted,
                        drives=True)
        return (grad.synapses.copy() if weighted else np.float64(grad.coupling),
                np.float64(grad.drives.sum()), grad.initial_phases.copy())

    @jax.custom_vjp
    def spikes(coupling, drive, phases):
        if not jax.config.jax_enable_x64:
            raise ValueError("spike_function needs 64-bit JAX: jax.config.update("
                             "'jax_enable_x64', True) before calling it (spike times to 1e-12 s)")
        return jax.pure_callback(run, shapes, coupling, drive, phases)

    def forward(coupling, drive, phases):
        return spikes(coupling, drive, phases), (coupling, drive, phases)

    def reverse(saved, cotangents):
        coupling, drive, phases = saved
        dl_dt, dl_dphi = cotangents
        out = (jax.ShapeDtypeStruct(network.weights.shape if weighted else (), jnp.float64),
               jax.ShapeDtypeStruct((), jnp.float64), jax.ShapeDtypeStruct((n,), jnp.float64))
        return jax.pure_callback(pull, out, coupling, drive, phases, dl_dt, dl_dphi)

    spikes.defvjp(forward, reverse)
    return spikes
