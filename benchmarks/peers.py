"""Side by side: our engine, NEST 3 and Brian2 on the same networks, one process at a time.

Not part of CI. Each peer runs in its own environment, given by its Python:

    python -m venv --system-site-packages /tmp/nestsys
    /tmp/nestsys/bin/pip install nest-simulator
    python -m venv /tmp/briansys && /tmp/briansys/bin/pip install brian2 'numpy<2.4'
    python benchmarks/peers.py --nest-python /tmp/nestsys/bin/python \\
        --brian-python /tmp/briansys/bin/python [--json rows.json] [--full]
    python benchmarks/peers.py --quick                  # ours only, N = 1000, 0.2 s: a smoke run

Networks:

(a) the reference inhibitory LIF network, ``sparseprop_gpu.bench.reference_network(N)`` (K 100,
    tau 10 ms, J = -j0 / sqrt(K), drive 1 + tau sqrt(K) j0 nu, threshold 1, reset 0, no delay,
    no refractory period), N = 1e4, 1e5 (and 1e6 with ``--full``), our exact out-lists and
    initial voltages in every tool. NEST needs every delay >= its resolution (0.1 ms), and
    iaf_psc_delta_ps a refractory period of at least one step: there the peers run with delay
    0.1 ms (and iaf_psc_delta_ps with t_ref 0.1 ms); Brian2 runs with delay 0 (on_pre in the
    step of the spike). Voltages in NEST: E_L 0, V_th 20 mV, V_reset 0, I_e = 20 mV I C_m /
    tau_m, weights 20 mV J.
(b) Brunel's (2000) model A, N_E 10 000, N_I 2 500, C_E 1000, C_I 250, J 0.1 mV, g 5, eta 2,
    D 1.5 ms, t_ref 2 ms, theta 20 mV, V_reset 10 mV, tau 20 ms, in its AI state: NEST and
    Brian2 with Poisson input (poisson_generator(_ps) / PoissonInput) of rate eta nu_thr C_E
    and weight J on every neuron, inputs during the refractory period dropped; ours
    ``sp.brunel(g=5, eta=2, external="poisson")``, the same input as exact events onto neurons
    at rest (quiescent populations, docs/design.md §2.16): the same network, its connectivity
    and initial voltages given to the peers; the Poisson draws are each tool's own.

Timing: the wall time of the simulation itself, in the process that runs it: ours after a
first run of 10 spikes that compiles the engine; NEST ``nest.Run`` after ``nest.Prepare``
(creating, connecting and preparing are "build"); Brian2 cpp_standalone the C++ ``run()``
itself (Brian2's own ``last_run_info``; code generation, compilation, loading the synapses
are "build"). Peak memory: ``ru_maxrss`` of the process that simulated (ours: the child
Python; NEST: the child Python with the NEST kernel; Brian2: the compiled binary alone).
Everything runs single-threaded: our CPU backend one instance, NEST ``local_num_threads`` 1,
Brian2 without OpenMP.

The child side (``--child nest|brian2``) imports numpy and the peer only, never
sparseprop_gpu: the parent writes the connectivity and initial voltages to a .npz file.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.abspath(__file__)
RESOLUTION = 0.1          # ms: NEST's resolution, the peers' shortest delay
C_M = 250.0               # pF; any value: I_e scales with it
CHUNK = 1 << 20           # synapses per nest.Connect call
SPAN = 20.0               # mV of threshold - reset for network (a) in NEST
NET_A = "inhibitory LIF"
NET_B = "Brunel A, AI"
# simulated seconds per case: (ours, peers); ours runs longer, the peers' cost per second
T_A = {1_000: (20.0, 2.0), 10_000: (50.0, 2.0), 100_000: (5.0, 1.0), 1_000_000: (1.0, 0.2)}
T_B = (1.0, 0.5)
VARIANTS = {"nest": ["iaf_psc_delta_ps", "iaf_psc_delta h=0.1ms"],
            "brian2": ["brian2 cpp dt=0.1ms", "brian2 cpp dt=0.01ms"]}


# ---------------------------------------------------------------- children (no sparseprop_gpu)
def peak_mib():
    """Peak resident memory of this process (MiB)."""
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def nest_child(case, variant, t_sim):
    """Build and run one case in NEST; a dict of timings, spike count and peak memory."""
    import nest
    if hasattr(nest, "VerbosityLevel"):
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:
        nest.set_verbosity("M_ERROR")
    precise = variant == "iaf_psc_delta_ps"
    model = "iaf_psc_delta_ps" if precise else "iaf_psc_delta"
    tick = time.perf_counter()
    d = np.load(case)
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": RESOLUTION, "local_num_threads": 1, "rng_seed": 1})
    n = int(d["n"])
    if str(d["network"]) == NET_A:
        tau_ms = float(d["tau"]) * 1e3
        t_ref = RESOLUTION if precise else 0.0
        params = {"E_L": 0.0, "V_th": SPAN, "V_reset": 0.0, "C_m": C_M, "tau_m": tau_ms,
                  "t_ref": t_ref, "I_e": SPAN * float(d["drive"]) * C_M / tau_ms}
        weight, delay = SPAN * d["weights"], RESOLUTION
        v_m = SPAN * d["v0"]
        note = f"delay {RESOLUTION:g} ms" + (f", t_ref {RESOLUTION:g} ms" if precise else "")
    else:
        params = {"E_L": 0.0, "V_th": float(d["theta"]), "V_reset": float(d["v_reset"]),
                  "C_m": C_M, "tau_m": float(d["tau"]) * 1e3, "t_ref": float(d["t_ref"]) * 1e3,
                  "I_e": 0.0}
        weight, delay, v_m = d["weights"], d["delays"], d["v0"]
        note = "Poisson input"
    if nest.GetDefaults(model).get("refractory_input", False):
        raise RuntimeError(f"{model} keeps refractory input here; ours discards it")
    nodes = nest.Create(model, n, params=params)
    nodes.set(V_m=v_m.tolist())
    sources, targets = d["sources"], d["targets"]
    weight = np.broadcast_to(np.asarray(weight, float), sources.shape)
    delay = np.broadcast_to(np.asarray(delay, float), sources.shape)
    for lo in range(0, sources.size, CHUNK):      # in chunks: our arrays stay small
        part = slice(lo, lo + CHUNK)
        nest.Connect(sources[part].astype(np.int64) + 1, targets[part].astype(np.int64) + 1,
                     conn_spec="one_to_one",
                     syn_spec={"synapse_model": "static_synapse",
                               "weight": np.ascontiguousarray(weight[part]),
                               "delay": np.ascontiguousarray(delay[part])})
    del sources, targets, weight, delay
    if str(d["network"]) == NET_B:
        gen = nest.Create("poisson_generator_ps" if precise else "poisson_generator",
                          params={"rate": float(d["poisson_rate"])})
        nest.Connect(gen, nodes, syn_spec={"weight": float(d["j"]),
                                           "delay": float(d["delay"]) * 1e3})
    recorder = nest.Create("spike_recorder")
    nest.Connect(nodes, recorder)
    nest.Prepare()
    build = time.perf_counter() - tick
    tick = time.perf_counter()
    nest.Run(t_sim * 1e3)
    wall = time.perf_counter() - tick
    nest.Cleanup()
    return {"wall_s": wall, "build_s": build, "spikes": int(recorder.n_events),
            "peak_mib": peak_mib(), "note": note, "version": f"NEST {nest.__version__}"}


RSS_WRAPPER = ("import os, subprocess, sys\n"
               "p = subprocess.Popen(sys.argv[2:])\n"
               "_, status, use = os.wait4(p.pid, 0)\n"
               "open(sys.argv[1], 'w').write(str(use.ru_maxrss))\n"
               "sys.exit(os.waitstatus_to_exitcode(status))\n")
"""Runs Brian2's binary and writes its own peak memory (KiB), not that of the compiler."""


def brian_child(case, variant, t_sim):
    """Build, compile and run one case in Brian2 cpp_standalone; like ``nest_child``."""
    import brian2 as b2
    dt = float(variant.rsplit("dt=", 1)[1].rstrip("ms"))
    tick = time.perf_counter()
    d = np.load(case)
    n = int(d["n"])
    work = tempfile.mkdtemp(prefix="peers_brian_")
    rss = os.path.join(work, "maxrss")
    project = os.path.join(work, "project")
    b2.set_device("cpp_standalone", directory=project, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0          # no OpenMP: one thread
    b2.prefs.devices.cpp_standalone.extra_make_args_unix = ["-j2"]   # compiling only
    b2.prefs.devices.cpp_standalone.run_cmd_unix = [sys.executable, "-c", RSS_WRAPPER, rss,
                                                    "./main"]
    b2.defaultclock.dt = dt * b2.ms
    if str(d["network"]) == NET_A:
        group = b2.NeuronGroup(n, "dv/dt = (I - v) / tau : 1", threshold="v >= 1",
                               reset="v = 0", method="exact",
                               namespace={"I": float(d["drive"]),
                                          "tau": float(d["tau"]) * b2.second})
        group.v = d["v0"]
        syn = b2.Synapses(group, group, on_pre="v_post += J",
                          namespace={"J": float(d["weights"][0])})
        syn.connect(i=d["sources"].astype(np.int32), j=d["targets"].astype(np.int32))
        note, extra = "delay 0", []
    else:
        ns = {"theta": float(d["theta"]) * b2.mV, "v_reset": float(d["v_reset"]) * b2.mV,
              "tau": float(d["tau"]) * b2.second}
        group = b2.NeuronGroup(n, "dv/dt = -v / tau : volt (unless refractory)\n"
                               "j_ext : volt (constant, shared)",
                               threshold="v >= theta", reset="v = v_reset",
                               refractory=float(d["t_ref"]) * b2.second, method="exact",
                               namespace=ns)
        group.v = d["v0"] * b2.mV
        group.j_ext = float(d["j"]) * b2.mV
        syn = b2.Synapses(group, group, "w : volt",
                          on_pre="v_post += w * int(not_refractory_post)",
                          delay=float(d["delay"]) * b2.second)
        syn.connect(i=d["sources"].astype(np.int32), j=d["targets"].astype(np.int32))
        syn.w = d["weights"] * b2.mV
        c_e = int(d["c_e"])
        extra = [b2.PoissonInput(group, "v", N=c_e,
                                 rate=float(d["poisson_rate"]) / c_e * b2.Hz,
                                 weight="j_ext * int(not_refractory)")]
        note = "PoissonInput"
    monitor = b2.SpikeMonitor(group, record=False)
    b2.Network(group, syn, monitor, *extra).run(t_sim * b2.second)
    b2.device.build(directory=project, compile=True, run=False)   # not ./output
    b2.device.run()
    build = time.perf_counter() - tick - b2.device.timers["run_binary"]
    wall = b2.device._last_run_time
    with open(rss) as f:
        peak = int(f.read()) / 1024.0
    return {"wall_s": wall, "build_s": build, "spikes": int(monitor.num_spikes),
            "peak_mib": peak, "note": f"{note}; binary {b2.device.timers['run_binary']:.3g} s",
            "version": f"Brian2 {b2.__version__}"}


def ours_child(spec, t_sim):
    """Our engine on one case (this child imports sparseprop_gpu)."""
    import sparseprop_gpu as sp
    from sparseprop_gpu import bench
    if spec["network"] == NET_A:
        net = bench.reference_network(spec["n"])
        note = "delay 0, exact"
    else:
        net = sp.brunel(n_e=10_000, g=5.0, eta=2.0, external="poisson", seed=1)
        note = "Poisson input, exact"
    row = bench.measure(net, t_sim)
    return {"wall_s": row["wall_s"], "build_s": row["setup_s"], "spikes": row["spikes"],
            "peak_mib": row["peak_mib"], "note": note,
            "version": f"sparseprop-gpu {sp.__version__}"}


def child(args):
    if args.child == "ours":
        out = ours_child(json.loads(args.case), args.t)
    elif args.child == "nest":
        out = nest_child(args.case, args.variant, args.t)
    else:
        out = brian_child(args.case, args.variant, args.t)
    with open(args.out, "w") as f:
        json.dump(out, f)
    return 0


# ---------------------------------------------------------------- parent
def write_case(network, n, path):
    """The connectivity and initial voltages of one network for the peers, as a .npz file."""
    import sparseprop_gpu as sp
    from sparseprop_gpu import bench
    if network == NET_A:
        net = bench.reference_network(n)
        targets = net.target_table()
        np.savez(path, network=network, n=n, tau=net.model.tau, drive=net.drive,
                 sources=np.repeat(np.arange(n, dtype=np.int32), targets.shape[1]),
                 targets=targets.reshape(-1), weights=np.array([net.coupling]),
                 v0=net.model.phase_to_voltage(net.initial_phases, net.drive))
        return
    net = sp.brunel(n_e=10_000, g=5.0, eta=2.0, external="poisson", seed=1)
    par = net.parametrisation
    span = par["theta"] - par["v_reset"]
    c_e = max(round(par["epsilon"] * par["n_e"]), 1)
    nu_thr = par["theta"] / (par["j"] * c_e * par["tau"])
    indptr, targets, coupling, delay = net.out_lists()
    v0 = par["v_reset"] + span * net.initial_phases   # quiescent: the initial voltages
    np.savez(path, network=network, n=net.n, tau=par["tau"], theta=par["theta"],
             v_reset=par["v_reset"], t_ref=par["t_ref"], delay=par["delay"], j=par["j"],
             c_e=c_e, poisson_rate=par["eta"] * nu_thr * c_e,
             sources=np.repeat(np.arange(net.n, dtype=np.int32), np.diff(indptr)),
             targets=targets.astype(np.int32), weights=coupling * span, v0=v0,
             delays=np.round(delay * 1e3 / RESOLUTION) * RESOLUTION)


def peer_status(tool, python):
    """None if ``python`` imports the peer, else the reason it is not run."""
    if python is None:
        return f"not run: no --{'nest' if tool == 'nest' else 'brian'}-python given"
    module = "nest" if tool == "nest" else "brian2"
    try:
        done = subprocess.run([python, "-c", f"import {module}"], check=False,
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"not run: {python} failed to start ({type(exc).__name__}: {exc})"
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"not run: import {module} failed in {python} ({last})"
    return None


def run_child(python, tool, case, variant, t_sim, timeout):
    """One case in a fresh process; (result dict, None) or (None, reason)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    command = [python, HERE, "--child", tool, "--case", case, "--t", repr(t_sim),
               "--out", out] + (["--variant", variant] if variant else [])
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode:
            last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            return None, f"failed: {last[:160]}"
        with open(out) as f:
            return json.load(f), None
    except subprocess.TimeoutExpired:
        return None, f"failed: over --timeout {timeout:g} s"
    finally:
        os.unlink(out)


def row_of(tool, variant, network, n, t_sim, result, reason=None):
    row = {"tool": tool, "variant": variant, "network": network, "n": n, "t_sim": t_sim}
    if result is None:
        return dict(row, status=reason)
    spikes = result["spikes"]
    return dict(row, status="ok", **result, rate_hz=spikes / n / t_sim,
                us_per_spike=result["wall_s"] / max(spikes, 1) * 1e6,
                wall_per_sim_s=result["wall_s"] / t_sim)


def fmt(value, spec):
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else format(value, spec)


def table(rows):
    """The rows as one plain-text table, with our speed-up against each peer."""
    ours = {(r["network"], r["n"]): r for r in rows if r["tool"] == "ours" and r["status"] == "ok"}
    head = (f"{'tool':<6} {'variant':<22} {'network':<15} {'N':>8} {'sim s':>6} {'wall s':>8} "
            f"{'us/spike':>9} {'wall s/sim s':>12} {'peak MiB':>9} {'rate Hz':>8} "
            f"{'ours x':>9}  {'build s':>7}  note")
    lines = [head, "-" * len(head)]
    for r in rows:
        lead = (f"{r['tool']:<6} {r['variant']:<22} {r['network']:<15} {r['n']:>8} "
                f"{r['t_sim']:>6.3g}")
        if r["status"] != "ok":
            lines.append(f"{lead} {r['status']}")
            continue
        mine = ours.get((r["network"], r["n"]))
        ratio = "-"
        if r["tool"] != "ours" and mine is not None:
            ratio = f"{r['wall_per_sim_s'] / mine['wall_per_sim_s']:.3g}"
        lines.append(f"{lead} {r['wall_s']:>8.3g} {r['us_per_spike']:>9.3g} "
                     f"{r['wall_per_sim_s']:>12.3g} {fmt(r['peak_mib'], '9.0f'):>9} "
                     f"{r['rate_hz']:>8.3g} {ratio:>9}  {r['build_s']:>7.3g}  {r['note']}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nest-python", help="a Python that imports nest (NEST 3)")
    parser.add_argument("--brian-python", help="a Python that imports brian2")
    parser.add_argument("--full", action="store_true", help="network (a) at N = 1e6 too")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: network (a) at N = 1000, 0.2 s, no (b)")
    parser.add_argument("--sizes", type=int, nargs="+", help="N of network (a) "
                        "(default 10000 100000, with --full 1000000 too)")
    parser.add_argument("--no-brunel", action="store_true", help="skip network (b)")
    parser.add_argument("--brunel-only", action="store_true", help="network (b) alone")
    parser.add_argument("--t-ours", type=float, help="simulated seconds of our runs "
                        "(default per N: " + ", ".join(f"{n:g}: {t[0]:g}" for n, t in T_A.items())
                        + f"; (b) {T_B[0]:g})")
    parser.add_argument("--t-peers", type=float, help="simulated seconds of the peers' runs "
                        "(default per N: " + ", ".join(f"{n:g}: {t[1]:g}" for n, t in T_A.items())
                        + f"; (b) {T_B[1]:g})")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds one case may take, build included (default 1800)")
    parser.add_argument("--json", metavar="PATH", help="write the rows to this JSON file")
    parser.add_argument("--child", choices=("ours", "nest", "brian2"), help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--t", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    for name in ("t_ours", "t_peers"):
        value = getattr(args, name)
        if value is not None and not 0 < value < math.inf:
            parser.error(f"--{name.replace('_', '-')} must be a number of seconds > 0; got "
                         f"{value:g}")
    if args.sizes and min(args.sizes) < 101:
        parser.error(f"--sizes must be integers >= 101 (K = 100); got {min(args.sizes)}")
    sizes = [1_000] if args.quick else args.sizes or [10_000, 100_000] + [1_000_000] * args.full
    cases = [(NET_A, n) for n in sizes] * (not args.brunel_only) + \
        [(NET_B, 12_500)] * (not (args.quick or args.no_brunel))

    from sparseprop_gpu import bench
    peers = {"nest": args.nest_python, "brian2": args.brian_python}
    status = {tool: peer_status(tool, python) for tool, python in peers.items()}
    print(f"date and machine: {bench.machine()}")
    print(f"command: {' '.join([sys.executable] + sys.argv)}")
    print("threads: 1 everywhere (ours: CPU backend, one instance; NEST local_num_threads 1; "
          "Brian2 cpp_standalone without OpenMP); each case in its own process, one at a time")
    for tool, reason in status.items():
        print(f"{tool}: {reason or peers[tool]}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="peers_") as work:
        for network, n in cases:
            t_ours, t_peers = (T_B if network == NET_B else
                               T_A.get(n, (2e6 / n / 3.4, 1e5 / n)))
            if args.quick:
                t_ours = t_peers = 0.2
            t_ours, t_peers = args.t_ours or t_ours, args.t_peers or t_peers
            spec = json.dumps({"network": network, "n": n})
            result, reason = run_child(sys.executable, "ours", spec, None, t_ours, args.timeout)
            rows.append(row_of("ours", "sparseprop CPU", network, n, t_ours, result, reason))
            print(f"... ours {network} N={n}: {reason or 'done'}", file=sys.stderr, flush=True)
            case = None
            for tool, variants in VARIANTS.items():
                for variant in variants:
                    if status[tool]:
                        rows.append(row_of(tool, variant, network, n, t_peers, None, status[tool]))
                        continue
                    if case is None:
                        case = os.path.join(work, f"case_{n}.npz")
                        write_case(network, n, case)
                    result, reason = run_child(peers[tool], tool, case, variant, t_peers,
                                               args.timeout)
                    rows.append(row_of(tool, variant, network, n, t_peers, result, reason))
                    print(f"... {variant} {network} N={n}: {reason or 'done'}", file=sys.stderr,
                          flush=True)
            if case is not None:
                os.unlink(case)
    print()
    print(table(rows))
    print("\nours x: the peer's wall time per simulated second over ours on the same network "
          "(> 1: ours faster).")
    if any(r["network"] == NET_B for r in rows):
        print("Brunel A: the same network and input law in every tool (ours exact events); "
              "the rates differ by the Poisson draws, and NEST's iaf_psc_delta by its grid.")
    print(f"(a) in the peers: NEST with delay {RESOLUTION:g} ms (its minimum at resolution "
          f"{RESOLUTION:g} ms) and iaf_psc_delta_ps with t_ref {RESOLUTION:g} ms (its minimum); "
          "Brian2 with delay 0; ours exact, delay 0, t_ref 0.")
    print("wall s: the simulation alone (ours after a compiling first call; NEST nest.Run after "
          "nest.Prepare; Brian2 its C++ run()); build s: ours the first call (compilation or "
          "Numba's cache, connectivity, 10 spikes), NEST creating, connecting and preparing, "
          "Brian2 code generation, compilation and the binary's set-up. peak MiB: ru_maxrss of "
          "the simulating process (ours and NEST: the Python process, with its connectivity "
          "arrays; Brian2: the compiled binary).")
    versions = sorted({r["version"] for r in rows if r["status"] == "ok"})
    print(f"versions: {', '.join(versions)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": bench.machine(), "command": sys.argv, "versions": versions,
                       "rows": rows}, f, indent=1)
        print(f"rows written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
