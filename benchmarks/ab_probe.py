"""One side of an A/B between two checkouts: the engine's ns per synaptic event for a few networks,
or the engine and wall seconds of a CPU ensemble. Runs against this code and against 0.1 (afcd3ec).

Usage: python ab_probe.py CASE (one of the names in CASES, or "ensemble"); benchmarks/ab.sh runs
the pairs. Prints one JSON object."""
import sys, time, json
import numpy as np
import sparseprop_gpu as sp
try:
    from sparseprop_gpu.runs.simulate import engine_state
    from sparseprop_gpu.engine.cpu import CpuRunner
    NEW = True
except ImportError:
    from sparseprop_gpu.simulate import engine_state
    from sparseprop_gpu.backends.cpu import CpuRunner
    NEW = False
K = 100

def advance(runner, spikes):
    if NEW:
        runner.advance(np.array([0]), t_end=np.inf, warmup=0.0, max_spikes=spikes, keep=False)
    else:
        runner.advance(np.array([0]), np.inf, 0.0, spikes, keep=False)

def cost(net, key, spikes=100_000, repeats=3):
    state = engine_state(net, key=key, buffer_spikes=4096)
    runner = CpuRunner(state, parallel=False)
    advance(runner, max(net.n, 20_000))
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter(); advance(runner, spikes); best = min(best, time.perf_counter() - t)
    return best / spikes / K * 1e9

def lif(n, conn):
    return sp.Network(model=sp.LIF(tau=0.01), n=n, k=K, j0=1.0, target_rate=1.0, seed=1, connectivity=conn)

CASES = {
    "LIF 1e3 stored exp": lambda: cost(lif(1000, "stored"), "exp"),
    "LIF 1e4 stored exp": lambda: cost(lif(10_000, "stored"), "exp"),
    "LIF 1e5 on-the-fly exp": lambda: cost(lif(100_000, "on_the_fly"), "exp"),
    "LIF 1e5 on-the-fly phase": lambda: cost(lif(100_000, "on_the_fly"), "phase"),
    "LIF 1e6 on-the-fly exp": lambda: cost(lif(1_000_000, "on_the_fly"), "exp", 200_000, 2),
    "QIF 1e5 phase": lambda: cost(sp.Network(model=sp.QIF(tau=0.01), n=100_000, k=K, j0=1.0, target_rate=1.0, seed=1), "phase"),
    "EIF 1e5 input map": lambda: cost(sp.Network(model=sp.EIF(tau=0.01), n=100_000, k=K, j0=1.0, target_rate=1.0, seed=1), "phase"),
    "LIF 1e5 per-neuron drive time": lambda: cost(sp.Network(model=sp.LIF(tau=0.01), n=100_000, k=K, seed=1,
        drive=sp.heterogeneous(lambda i, n: 1.1 + 0.04 * np.sin(2 * np.pi * i / n)), coupling=-0.01), "time"),
}

def ensemble():
    net = sp.Network(model=sp.LIF(tau=0.01), n=1000, k=K, j0=1.0, target_rate=1.0, seed=0, connectivity="on_the_fly")
    ens = sp.Ensemble(net, seeds=list(range(64)))
    engine = [0.0]
    original = CpuRunner.advance
    def timed(runner, *a, **kw):
        t = time.perf_counter(); original(runner, *a, **kw); engine[0] += time.perf_counter() - t
    CpuRunner.advance = timed
    sp.run_ensemble(ens, t_end=0.2, record="summary", backend="cpu")      # warm
    engine[0] = 0.0
    t = time.perf_counter()
    sp.run_ensemble(ens, t_end=2.0, record="summary", backend="cpu")
    wall = time.perf_counter() - t
    CpuRunner.advance = original
    return engine[0], wall

which = sys.argv[1]
if which == "ensemble":
    e, w = ensemble()
    print(json.dumps({"ensemble engine s": e, "ensemble wall s": w}))
else:
    print(json.dumps({which: CASES[which]()}))
