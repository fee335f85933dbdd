"""The allowed values of every choice, one list each, shared by the API, the CLI and sweeps."""

RECORD = ("spikes", "summary")
"""What a run keeps: every spike, or per-neuron counts and ISI moments only."""

KEYS = ("auto", "exp", "phase", "time")
"""Priority-queue keys (``kernels.models``); "auto" picks the fastest the network allows."""

BACKENDS = ("auto", "cpu", "cuda")
"""Where instances run; "auto" takes a usable GPU."""

CONNECTIVITY = ("auto", "stored", "on_the_fly")
"""A stored (N, K) target table, or targets redrawn from the seed at every spike."""

SWEEP_MODES = ("grid", "zip")
"""How a sweep combines its swept keys."""

PER_NEURON = ("count", "rate", "cv_isi", "isi_sum", "isi_sumsq")
"""Per-neuron arrays a sweep store can keep; ``per_neuron = true`` keeps the first three."""

RULES = ("k", "indegree", "p")
"""Connection rules of a block of a network of populations: fixed out-degree, fixed in-degree,
pairwise Bernoulli (``specification.populations.Projection``)."""
