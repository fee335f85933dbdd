"""Yin-Yang classification by time to first spike, trained with exact gradients (issue 14's
second showcase; docs/design.md §2.21).

Five inputs (x, y, 1 - x, 1 - y and a bias) fire once at latency-coded times, a hidden layer
and three outputs of QIF neurons follow, all-to-all between layers (``layered``), weights of
both signs; the class is the output that fires first. The loss is the cross-entropy of
softmax(-t / sigma) over the outputs' first spike times plus alpha (exp(t_label / tau_r) - 1),
taken through the engine's spikes by ``training.spike_function`` (JAX, optax Adam). A
mini-batch is ``jax.vmap`` over the input neurons' initial phases.

    python examples/train_yinyang.py --out yinyang      # full size: writes .json and .png
"""
import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import sparseprop_gpu as sp
from sparseprop_gpu.datasets import yin_yang
from sparseprop_gpu.specification.layered import layered
from sparseprop_gpu.training import spike_function, spike_times_of

from showcase import save_run      # examples/showcase.py, beside this script

jax.config.update("jax_enable_x64", True)

TAU = 0.01                  # s
DRIVE = 0.01                # I: a free QIF period of pi tau / sqrt(I) = 31 tau
EARLY, LATE = 0.2, 2.2      # input latencies, in tau: x = 0 fires at EARLY, x = 1 at LATE
INIT_IN, INIT_OUT = (0.3, 0.5), (0.5, 3.0)     # initial weights' (mean, sd) into the hidden
#                               layer, and into the outputs times sqrt(hidden)
SIGMA, ALPHA, TAU_R = 0.5, 0.01, 5.0      # loss: softmax temperature, regulariser (tau units)


def encode(points, first_hidden, n):
    """Initial phases of every neuron for each point: the inputs' phases put their only spike
    at the latency of (x, y, 1 - x, 1 - y) and of the bias; the others start at V = 0."""
    x, y = points[:, 0], points[:, 1]
    latency = EARLY + (LATE - EARLY) * np.stack([x, y, 1 - x, 1 - y, np.zeros_like(x)], 1)
    tpp = 1.0 / (2.0 * np.sqrt(DRIVE))                    # tau per unit of phase
    phases = np.zeros((points.shape[0], n))
    phases[:, :first_hidden] = np.pi - latency / tpp
    return phases


class Task:
    """The network, the data and the loss of one training run."""

    def __init__(self, hidden, train_size, test_size, seed):
        self.targets, self.mask, first = layered([5, hidden, 3])
        self.n, self.k = self.targets.shape
        self.outputs = np.arange(first[2], self.n)
        self.network = sp.Network(model=sp.QIF(tau=TAU), n=self.n, k=self.k, drive=DRIVE,
                                  targets=self.targets, weights=np.zeros((self.n, self.k)))
        rng = np.random.default_rng(seed)
        into = np.arange(self.n)[:, None] < first[1]       # rows of the inputs
        mean = np.where(into, INIT_IN[0], INIT_OUT[0] / np.sqrt(hidden))
        spread = np.where(into, INIT_IN[1], INIT_OUT[1] / np.sqrt(hidden))
        self.weights0 = rng.normal(mean, spread, (self.n, self.k)) * self.mask
        self.train = yin_yang(train_size, seed)
        self.test = yin_yang(test_size, seed + 1)
        self.spikes = jax.vmap(spike_function(self.network, 2 * self.n), in_axes=(None, None, 0))

    def first_spikes(self, weights, phases):
        """(B, 3) first spike times of the outputs, in tau (40 tau where one never fired)."""
        times, senders, _ = self.spikes(weights * self.mask, DRIVE, phases)
        return spike_times_of(times, senders, self.outputs, missing=40.0 * TAU)[..., 0] / TAU

    def loss(self, weights, phases, labels):
        t = self.first_spikes(weights, phases)
        log_p = jax.nn.log_softmax(-t / SIGMA, axis=1)
        own = jnp.take_along_axis(t, labels[:, None], 1)[:, 0]
        chosen = jnp.take_along_axis(log_p, labels[:, None], 1)[:, 0]
        return jnp.mean(-chosen + ALPHA * (jnp.exp(own / TAU_R) - 1.0))

    def accuracy(self, weights, points, labels, chunk=500):
        right = 0
        for lo in range(0, len(labels), chunk):
            phases = encode(points[lo:lo + chunk], 5, self.n)
            t = np.asarray(self.first_spikes(weights, jnp.asarray(phases)))
            right += int(np.sum(np.argmin(t, axis=1) == labels[lo:lo + chunk]))
        return right / len(labels)


def train(epochs=30, hidden=120, train_size=5000, test_size=1000, batch=32, rate=3e-3,
          seed=42, report=print):
    """Train and return the history: per epoch the mean training loss, the accuracy on the
    first 1000 training points and on the test set, and the wall time (s). Adam with a cosine
    decay of the rate to 5 % over the run."""
    task = Task(hidden, train_size, test_size, seed)
    steps = epochs * (train_size // batch)
    opt = optax.adam(optax.cosine_decay_schedule(rate, max(steps, 1), alpha=0.05))
    weights = jnp.asarray(task.weights0)
    state = opt.init(weights)
    step = jax.jit(jax.value_and_grad(task.loss))
    rng = np.random.default_rng(seed + 2)
    points, labels = task.train
    history = {"epoch": [], "loss": [], "train_accuracy": [], "test_accuracy": [], "seconds": []}
    started = time.perf_counter()
    for epoch in range(epochs + 1):
        losses = []
        if epoch > 0:                                   # epoch 0: the untrained network
            order = rng.permutation(len(labels))
            for lo in range(0, len(order) - batch + 1, batch):
                pick = order[lo:lo + batch]
                value, grad = step(weights, jnp.asarray(encode(points[pick], 5, task.n)),
                                   jnp.asarray(labels[pick]))
                update, state = opt.update(grad, state)
                weights = optax.apply_updates(weights, update)
                losses.append(float(value))
        else:
            losses.append(float(task.loss(weights, jnp.asarray(encode(points[:500], 5, task.n)),
                                          jnp.asarray(labels[:500]))))
        history["epoch"].append(epoch)
        history["loss"].append(float(np.mean(losses)))
        history["train_accuracy"].append(task.accuracy(weights, points[:1000], labels[:1000]))
        history["test_accuracy"].append(task.accuracy(weights, *task.test))
        history["seconds"].append(time.perf_counter() - started)
        report(f"epoch {epoch:3d}  loss {history['loss'][-1]:.4f}  train "
               f"{history['train_accuracy'][-1]:.3f}  test {history['test_accuracy'][-1]:.3f}  "
               f"{history['seconds'][-1]:.0f} s")
    history["weights"] = np.asarray(weights)
    return history


def plot(history, path=None):
    """The learning curve: loss and accuracies against epochs."""
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(history["epoch"], history["loss"])
    left.set(xlabel="epoch", ylabel="training loss", yscale="log")
    right.plot(history["epoch"], history["train_accuracy"], label="train")
    right.plot(history["epoch"], history["test_accuracy"], label="test")
    right.axhline(0.95, color="gray", lw=0.8, ls=":", label="EventProp / Göltz et al. ~95-96 %")
    right.set(xlabel="epoch", ylabel="accuracy", ylim=(0.3, 1.0))
    right.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
    return fig


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=120)
    parser.add_argument("--train-size", type=int, default=5000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rate", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default="yinyang")
    args = parser.parse_args()
    history = train(args.epochs, args.hidden, args.train_size, args.test_size, args.batch,
                    args.rate, args.seed)
    save_run(history, args, plot)


if __name__ == "__main__":
    main()
