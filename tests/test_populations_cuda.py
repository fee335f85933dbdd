"""Networks of populations on the CUDA kernel (the blocked variant), under the CUDA simulator
(NUMBA_ENABLE_CUDASIM=1, in a subprocess): the same spikes, bit for bit, as the CPU backend,
for stored and on-the-fly blocks (every rule), both keys, LIF, QIF and EIF (the table
models' variant of the loop), delays, refractory periods and excitation,
instances of different sizes in one batch, and the loop's error statuses (a zero-delay
cascade, a full FIFO of spikes in flight).

The simulator runs each CUDA thread as a Python thread: tiny networks (N = 30-40), a few
hundred spikes, through a 64-spike buffer (drained and relaunched several times).
"""

from conftest import under_simulator

COMMON = r"""
import json, warnings
import numpy as np
import sparseprop_gpu as sp
from sparseprop_gpu.engine.batch import Batch
from sparseprop_gpu.engine.cpu import CpuRunner
from sparseprop_gpu.engine.cuda import CudaRunner
from sparseprop_gpu.engine.launch import run_launches
from sparseprop_gpu.kernels import models as km
warnings.simplefilter("ignore", RuntimeWarning)   # uint64 wraparound of the hash, in Python

P, J = sp.Population, sp.Projection
KEYS = {"exp": km.KEY_EXP_TIME, "time": km.KEY_TIME}


def ei(connectivity, seed, n_e=24, n_i=8, tau_i=None, model=sp.LIF(tau=0.01), drive=(2.0, 2.5)):
    pops = [P("E", n_e, drive[0], 0.002), P("I", n_i, drive[1], 0.0, tau_i)]
    # on the fly: fixed out-degree and Bernoulli blocks; stored: fixed in-degree and Bernoulli
    many = "k" if connectivity == "on_the_fly" else "indegree"
    rule = lambda k: {many: k} if k > 3 else {"p": 0.3}
    projections = [J("E", "E", 0.03, 0.0015, **rule(4)), J("E", "I", 0.05, 0.0, **rule(3)),
                   J("I", "E", -0.2, 0.001, **rule(4)), J("I", "I", -0.1, 0.0, **rule(3))]
    return sp.PopulationNetwork(model, pops, projections, seed=seed, connectivity=connectivity)


def batch_of(nets, key):
    # one Batch of several networks, as PopulationTable.engine_inputs builds it
    inputs = [net.engine_inputs(KEYS[key]) for net in nets]
    return Batch(model_id=nets[0].model.kernel_id, key_kind=KEYS[key],
                 pars=np.stack([par for par, _ in inputs]),
                 phases=[net.initial_phases for net in nets], ks=[1] * len(nets),
                 seeds=[net.seed for net in nets], blocks=[b for _, b in inputs],
                 buffer_spikes=64)


def compare(nets, key, n_spikes):
    try:
        got, _, _ = run_launches(CudaRunner(batch_of(nets, key)), np.inf, n_spikes, 0.0, True)
    except Exception as exc:         # reported per case: the others still run
        return dict(error=f"{type(exc).__name__}: {exc}"[:300], same=False, counts=[])
    want, _, _ = run_launches(CpuRunner(batch_of(nets, key), parallel=False), np.inf,
                              n_spikes, 0.0, True)
    return dict(counts=[int(t.size) for t, _ in got],
                same=all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
                         for a, b in zip(got, want)) and len(got) == len(want),
                together=int(sum(np.sum(np.diff(t) == 0.0) for t, _ in got)))


def error_of(nets, key):
    try:
        run_launches(CudaRunner(batch_of(nets, key)), np.inf, 500, 0.0, True)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


"""

CLOSED_FORMS = COMMON + r"""
out = {}
for connectivity in ("on_the_fly", "stored"):
    nets = [ei(connectivity, 2), ei(connectivity, 3, n_e=20, n_i=12), ei(connectivity, 4)]
    out[f"lif {connectivity} exp"] = compare(nets, "exp", 200)
    nets[2] = ei(connectivity, 4, tau_i=0.008)
    out[f"lif {connectivity} time, two taus"] = compare(nets, "time", 200)
qif = [ei("on_the_fly", s, model=sp.QIF(tau=0.01), drive=(1.0, 1.5)) for s in (5, 6)]
out["qif on_the_fly time"] = compare(qif, "time", 150)

brunel = sp.brunel(n_e=24, g=5.0, eta=2.0, j=0.5, epsilon=0.2, seed=1)
ensemble = sp.Ensemble(brunel, seeds=[1, 2], g=[4.0, 6.0])


def ensemble_case():
    try:
        cuda = sp.run_ensemble(ensemble, n_spikes=150, backend="cuda", record="spikes",
                               buffer_spikes=64)
    except Exception as exc:
        return dict(error=f"{type(exc).__name__}: {exc}"[:300])
    cpu = sp.run_ensemble(ensemble, n_spikes=150, backend="cpu", record="spikes")
    return dict(backend=cuda.sp.meta["backend"],
                counts=[int(c) for c in np.diff(cuda.sp.offsets)],
                same=bool(np.array_equal(cuda.sp.senders, cpu.sp.senders)
                          and np.array_equal(cuda.sp.times, cpu.sp.times)
                          and np.array_equal(cuda.sp.offsets, cpu.sp.offsets)
                          and np.array_equal(cuda["count"].values, cpu["count"].values)),
                together=0)


out["brunel ensemble"] = ensemble_case()

runaway = sp.PopulationNetwork(sp.LIF(tau=0.01), [P("E", 12, 2.0), P("I", 4, 2.0)],
                               [J("E", "E", 2.0, 0.0, k=11), J("I", "E", -0.1, 0.001, k=3)],
                               seed=1, connectivity="on_the_fly")
out["cascade"] = error_of([runaway], "exp")
small = sp.PopulationNetwork(sp.LIF(tau=0.01), [P("E", 12, 2.0), P("I", 4, 2.0)],
                             [J("E", "I", -0.1, 0.01, k=3), J("I", "E", -0.1, 0.002, k=3)],
                             seed=1, connectivity="on_the_fly", max_rate=1.0)
out["max_rate"] = error_of([small], "time")
print(json.dumps(out))
"""

TABLES = COMMON + r"""
out = {}
for connectivity, seeds in (("on_the_fly", (7, 8)), ("stored", (7, 8))):
    eif = [ei(connectivity, s, model=sp.EIF(tau=0.01), drive=(1.5, 2.0)) for s in seeds]
    eif.append(ei(connectivity, 9, n_e=20, n_i=12, tau_i=0.008, model=sp.EIF(tau=0.01),
                  drive=(1.5, 2.0)))
    out[f"eif {connectivity} time"] = compare(eif, "time", 150)
print(json.dumps(out))
"""


def test_closed_form_populations_on_the_cuda_kernel_under_the_simulator_equal_cpu():
    result = under_simulator(CLOSED_FORMS)
    errors = {case: r["error"] for case, r in result.items()
              if isinstance(r, dict) and "error" in r}
    assert not errors, errors
    assert "cascade" in result.pop("cascade")
    assert "max_rate" in result.pop("max_rate")
    assert result.pop("brunel ensemble") == {"backend": "cuda", "counts": [150, 150],
                                             "same": True, "together": 0}
    assert len(result) == 5
    for case, r in result.items():
        assert r["same"], case
        assert all(c == (200 if case.startswith("lif") else 150) for c in r["counts"]), case
    # the E -> I excitation at zero delay gives spikes at one instant: their order is tested
    assert all(result[case]["together"] > 0 for case in result if case.startswith("lif"))


def test_table_model_populations_on_the_cuda_kernel_under_the_simulator_equal_cpu():
    """EIF: the loop of populations' table variant, one lookup table per block."""
    result = under_simulator(TABLES)
    assert set(result) == {"eif on_the_fly time", "eif stored time"}
    for case, r in result.items():
        assert "error" not in r, (case, r["error"])
        assert r["same"] and r["counts"] == [150, 150, 150], (case, r)


INPUTS = COMMON + r"""
def driven(net, noise_seed):
    rng = np.random.default_rng(noise_seed)
    times = np.sort(np.round(rng.uniform(0.0, 0.05, 40), 3))
    stim = sp.Stimulus(times, rng.integers(0, net.n, 40), rng.choice([0.3, -0.2], 40))
    poisson = [sp.PoissonInput("E", 200.0, 0.05, 2), sp.PoissonInput("I", 300.0, -0.03)]
    return sp.PopulationNetwork(net.model, net.populations, net.given_projections,
                                seed=net.seed, connectivity=net.connectivity, inputs=poisson,
                                stimulus=stim if noise_seed != 2 else None,
                                noise_seed=noise_seed)

out = {}
for key in ("exp", "time"):
    nets = [driven(ei("on_the_fly", s), s) for s in (1, 2)]
    nets.append(driven(ei("stored", 3, n_e=20, n_i=12), 3))
    out[f"lif {key}"] = compare(nets, key, 200)
eif = [driven(ei("on_the_fly", s, model=sp.EIF(tau=0.01), drive=(1.5, 2.0)), s) for s in (4, 5)]
out["eif time"] = compare(eif, "time", 150)
quiet = [sp.brunel(n_e=24, g=5.0, eta=2.0, j=0.5, epsilon=0.2, external="poisson", seed=s,
                   noise_seed=s) for s in (1, 2)]
mixed = ei("on_the_fly", 3, drive=(2.0, 0.0))
quiet.append(sp.PopulationNetwork(mixed.model, mixed.populations, mixed.given_projections,
                                  seed=3, inputs=[sp.PoissonInput("I", 500.0, 0.2)]))
out["lif exp quiescent"] = compare(quiet, "exp", 150)
print(json.dumps(out))
"""


def test_external_input_on_the_cuda_kernel_under_the_simulator_equals_cpu():
    """Poisson input per population and stimulus events (one instance without), and quiescent
    populations (Brunel's model A at rest; one beside a population firing on its own): the
    same events (the counter-based stream) and spikes, bit for bit."""
    result = under_simulator(INPUTS)
    assert set(result) == {"lif exp", "lif time", "eif time", "lif exp quiescent"}
    for case, r in result.items():
        assert "error" not in r, (case, r["error"])
        assert r["same"], case
        want = {"eif time": [150] * 2, "lif exp quiescent": [150] * 3}.get(case, [200] * 3)
        assert r["counts"] == want, (case, r)
