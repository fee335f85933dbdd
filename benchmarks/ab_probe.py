"""One side of an A/B between two checkouts: the engine's ns per synaptic event for a few networks,
or the engine and wall seconds of a CPU ensemble. Runs against this code and against 0.1 (afcd3ec).

Usage: python ab_probe.py CASE (one of the names in CASES, or "ensemble", "simulate", "sweep":
the host's share of a CPU ensemble, of simulate and of an in-process sweep with its store);
benchmarks/ab.sh runs the pairs. Prints one JSON object."""
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

def ei(n, **inputs):
    """benchmarks/populations.py's E/I network (N = n, K = 100, delays 1.5 ms, t_ref 2 ms,
    LIF tau 20 ms, drive 2, J_E = 0.05, g = 6), written out so that 0.4 and later run it
    (``inputs``: 0.6 and later)."""
    n_e, k_e, j_e = int(0.8 * n), 80, 0.5 / np.sqrt(K)
    pops = [sp.Population("E", n_e, 2.0, 2e-3), sp.Population("I", n - n_e, 2.0, 2e-3)]
    prj = [sp.Projection(s, t, j_e if s == "E" else -6.0 * j_e, 1.5e-3,
                         k=k_e if t == "E" else K - k_e) for s in ("E", "I") for t in ("E", "I")]
    return sp.PopulationNetwork(sp.LIF(tau=0.02), pops, prj, seed=1, connectivity="on_the_fly",
                                **inputs)

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
    "E/I 1e5 delays exp": lambda: cost(ei(100_000), "exp", 500_000),
    "E/I 1e5 delays exp poisson": lambda: cost(ei(100_000, inputs=[
        sp.PoissonInput(pop, 5.0, 0.05, 100) for pop in ("E", "I")]), "exp", 500_000),
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

def simulate_wall():
    """Wall seconds of simulate() on a small network, spikes kept: the host's share shows."""
    net = sp.Network(model=sp.LIF(tau=0.01), n=2000, k=50, j0=1.0, target_rate=5.0, seed=0)
    sp.simulate(net, t_end=0.1)                                               # warm
    t = time.perf_counter()
    for _ in range(5):
        sp.simulate(net, t_end=2.0)
    return (time.perf_counter() - t) / 5


def sweep_wall():
    """Wall seconds of a 64-instance sweep run in this process into a new store (spikes kept):
    the store's writes, checks and finishing show."""
    import tempfile
    from sparseprop_gpu.distributed import run_sweep
    spec = {"network": {"model": "lif", "n": 500, "k": 50, "tau": 0.01, "j0": 1.0},
            "sweep": {"target_rate": [1.0, 5.0], "seed": {"range": 32}},
            "run": {"t_end": 1.0, "record": "spikes", "per_neuron": True, "batch_size": 8,
                    "backend": "cpu"}}
    with tempfile.TemporaryDirectory() as d:
        run_sweep(spec, d + "/warm.zarr", in_process=True, progress=False)
        t = time.perf_counter()
        run_sweep(spec, d + "/s.zarr", in_process=True, progress=False)
        wall = time.perf_counter() - t
        sp.open_results(d + "/s.zarr")["rate_mean"].values
        return wall, time.perf_counter() - t - wall


which = sys.argv[1]
if which == "ensemble":
    e, w = ensemble()
    print(json.dumps({"ensemble engine s": e, "ensemble wall s": w}))
elif which == "simulate":
    print(json.dumps({"simulate wall s": simulate_wall()}))
elif which == "sweep":
    w, o = sweep_wall()
    print(json.dumps({"sweep in-process wall s": w, "open_results s": o}))
else:
    print(json.dumps({which: CASES[which]()}))
