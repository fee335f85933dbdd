"""Readouts of a balanced network learn to fire at target times (issue 14's first showcase;
docs/design.md §2.21).

A balanced network of QIF neurons (inhibitory, van Vreeswijk and Sompolinsky's scaling: J =
-j0 / sqrt(K), I = tau sqrt(K) j0 nu) starts from random initial phases; R readout neurons (in
the same network, listening to every network neuron, sending nothing) learn the weights of
their inputs, of both signs, so that readout r fires its first m spikes at the times a teacher
readout (weights drawn once, hidden from the student) fires them from the same network
activity. The targets move with the initial condition, so the readouts must read the network's
state; initial conditions never trained on test that they do. Loss: the mean squared distance
of the spike times to the targets (ms^2), through ``training.spike_function``; optax Adam; a
mini-batch is ``jax.vmap`` over the initial conditions.

    python examples/train_timing.py --out timing      # full size: writes .json and .png
"""
import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import sparseprop_gpu as sp
from sparseprop_gpu.training import spike_function, spike_times_of

from showcase import save_run      # examples/showcase.py, beside this script

jax.config.update("jax_enable_x64", True)

TAU = 0.01                  # s
TEACHER = (20.0, 1.0)       # the teacher's readout weights: mean * n and sd * sqrt(n)


class Task:
    """The network, the targets and the loss of one training run."""

    def __init__(self, n, k, readouts, spikes_each, rate, seed):
        base = sp.Network(model=sp.QIF(tau=TAU), n=n, k=k, j0=1.0, target_rate=rate, seed=seed,
                          connectivity="stored")
        self.n, self.k, self.m = n + readouts, k + readouts, spikes_each
        self.readouts = np.arange(n, self.n)
        targets = np.zeros((self.n, self.k), np.int64)
        targets[:n, :k] = base.target_table()
        targets[:n, k:] = self.readouts                  # every network neuron -> every readout
        targets[n:] = np.arange(self.k)                  # the readouts send nothing: padding
        self.train_mask = np.zeros((self.n, self.k))
        self.train_mask[:n, k:] = 1.0
        self.fixed = np.zeros((self.n, self.k))
        self.fixed[:n, :k] = base.coupling
        self.drive = base.drive
        self.network = sp.Network(model=base.model, n=self.n, k=self.k, drive=base.drive,
                                  targets=targets, weights=self.fixed)
        # the teacher: readout weights of both signs that the students must find
        rng = np.random.default_rng([seed, 0x7EAC])
        self.teacher = np.zeros((self.n, self.k))
        self.teacher[:n, k:] = rng.normal(TEACHER[0] / n, TEACHER[1] / np.sqrt(n), (n, readouts))
        period = np.pi * TAU / np.sqrt(base.drive)          # the free readout's
        # enough spikes that every readout's m-th spike falls inside the run
        self.size = int(2.0 * (spikes_each + 1) * period * (n * rate + readouts * 2 / period))
        self.spikes = jax.vmap(spike_function(self.network, self.size), in_axes=(None, None, 0))

    def phases(self, seeds):
        """Initial phases: the network's drawn uniformly from each seed, the readouts' 0
        (V = 0)."""
        out = np.zeros((len(seeds), self.n))
        for b, seed in enumerate(seeds):
            rng = np.random.default_rng([seed, 0x7E])
            out[b, :self.n - len(self.readouts)] = rng.uniform(-np.pi, np.pi,
                                                                self.n - len(self.readouts))
        return jnp.asarray(out)

    def readout_spikes(self, weights, phases):
        """(B, R, m) times of the readouts' first m spikes (s); the run's end where fewer."""
        times, senders, _ = self.spikes(weights * self.train_mask + self.fixed, self.drive,
                                        phases)
        return spike_times_of(times, senders, self.readouts, self.m)

    def loss(self, weights, phases):
        """Mean squared distance of the readouts' spikes to the teacher's (ms^2)."""
        target = jax.lax.stop_gradient(self.readout_spikes(jnp.asarray(self.teacher), phases))
        return jnp.mean(((self.readout_spikes(weights, phases) - target) * 1e3) ** 2)


def train(steps=400, n=500, k=50, readouts=4, spikes_each=3, rate=10.0, batch=16, rate_lr=3e-3,
          test=32, seed=3, report=print, every=10):
    """Train and return the history: per ``every`` steps the training loss of the step and the
    loss on ``test`` held-out initial conditions (seeds the training never draws), and the
    held-out loss of the targets' mean over those initial conditions (``state_blind_loss``:
    what readouts that ignore the network's state could reach at best)."""
    task = Task(n, k, readouts, spikes_each, rate, seed)
    opt = optax.adam(optax.cosine_decay_schedule(rate_lr, max(steps, 1), alpha=0.05))
    weights = jnp.zeros((task.n, task.k))
    state = opt.init(weights)
    step = jax.jit(jax.value_and_grad(task.loss))
    held_out = task.phases(range(10**6, 10**6 + test))
    target = np.asarray(task.readout_spikes(jnp.asarray(task.teacher), held_out))
    blind = float(np.mean(((target - target.mean(axis=0)) * 1e3) ** 2))
    report(f"held out: {blind:.3f} ms^2 for the best readout blind to the network's state "
           "(the targets' mean over initial conditions)")
    history = {"step": [], "loss": [], "test_loss": [], "seconds": [], "state_blind_loss": blind}
    started = time.perf_counter()
    for i in range(steps + 1):
        value, grad = step(weights, task.phases(range(i * batch, (i + 1) * batch)))
        if i % every == 0 or i == steps:
            history["step"].append(i)
            history["loss"].append(float(value))
            history["test_loss"].append(float(task.loss(weights, held_out)))
            history["seconds"].append(time.perf_counter() - started)
            report(f"step {i:4d}  loss {history['loss'][-1]:10.4f} ms^2  held out "
                   f"{history['test_loss'][-1]:10.4f} ms^2  {history['seconds'][-1]:.0f} s")
        if i < steps:
            update, state = opt.update(grad, state)
            weights = optax.apply_updates(weights, update)
    history["weights"] = np.asarray(weights)
    history["held_out_teacher"] = np.asarray(task.readout_spikes(jnp.asarray(task.teacher),
                                                                 held_out[:4])).tolist()
    history["held_out_student"] = np.asarray(task.readout_spikes(weights, held_out[:4])).tolist()
    return history


def plot(history, path=None):
    """The learning curve (training and held-out loss) and the held-out readouts' spikes
    against their targets."""
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(history["step"], history["loss"], label="training batch")
    left.plot(history["step"], history["test_loss"], label="held-out initial conditions")
    left.axhline(history["state_blind_loss"], color="gray", lw=0.8, ls=":",
                 label="best readout blind to the state")
    left.set(xlabel="Adam step", ylabel="loss (ms²)", yscale="log")
    left.legend(fontsize=8)
    teacher, student = (np.asarray(history[f"held_out_{who}"]) * 1e3 for who in ("teacher",
                                                                                "student"))
    for trial in range(teacher.shape[0]):
        for r in range(teacher.shape[1]):
            y = trial * (teacher.shape[1] + 1) + r
            right.scatter(teacher[trial, r], np.full(teacher.shape[2], y), marker="|", s=120,
                          color="k")
            right.scatter(student[trial, r], np.full(teacher.shape[2], y), s=8, color="C1")
    right.set(xlabel="time (ms)", ylabel="held-out trial, readout", yticks=[],
              title="targets (|) and the trained readouts' spikes (•)")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
    return fig


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--readouts", type=int, default=4)
    parser.add_argument("--spikes-each", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rate", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", default="timing")
    args = parser.parse_args()
    history = train(args.steps, args.n, args.k, args.readouts, args.spikes_each,
                    batch=args.batch, rate_lr=args.rate, seed=args.seed)
    save_run(history, args, plot)


if __name__ == "__main__":
    main()
