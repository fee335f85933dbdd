"""The ``sparseprop`` command: ``simulate`` one network, ``sweep`` many, ``bench`` the engine on
this machine, ``info`` about this installation."""
import argparse
import importlib
import os
import platform
import sys
import time

from ._version import __version__
from .options import CONNECTIVITY, RECORD
from .specification.models import MODELS
from .text import labelled

DEFAULTS = {"model": "lif", "n": 10_000, "k": 100, "tau": 0.01, "j0": 1.0, "rate": 1.0,
            "t_end": 10.0, "connectivity": "auto", "seed": 0, "t_ref": 0.0}


NETWORK_OPTIONS = ("model", "n", "k", "tau", "j0", "rate", "drive", "coupling", "t_ref",
                   "connectivity", "seed", "ic_seed", "warmup", "record", "network", "n_e", "g",
                   "eta", "j", "delay", "noise_seed", "poisson", "external")
"""The simulate options that say which network and run: a continued run takes them from its
record."""


def _simulate(args):
    from .runs.record import SpikeRecord
    from .runs.recordio import check_destination
    from .runs.simulate import simulate
    from .specification.network import Network

    if args.checkpoint is not None and args.out is None:
        raise ValueError("--checkpoint saves the run to --out: give --out too")
    previous = None
    if args.continue_from is not None:
        given = [("-" if len(name) == 1 else "--") + name.replace("_", "-")
                 for name in NETWORK_OPTIONS if getattr(args, name) is not None]
        if given:
            raise ValueError(f"--continue takes the network and run from its record: leave out "
                             f"{', '.join(given)}")
        if args.t_end is None and args.n_spikes is None:
            raise ValueError("--continue needs --t-end or --n-spikes (of the whole run)")
        previous = SpikeRecord.load(args.continue_from)
        net = Network.from_description(previous.meta)
        out = args.out or args.continue_from       # the same run, continued, replaces its record
        overwrite = args.overwrite or args.out is None
    else:
        net = _network(args)
        out, overwrite = args.out, args.overwrite
    if out is not None:            # before anything is computed
        check_destination(out, overwrite or args.checkpoint is not None)
    t_end = args.t_end if args.t_end is not None else (None if args.n_spikes else
                                                       DEFAULTS["t_end"])
    t_end = None if t_end is not None and t_end <= 0 and args.n_spikes else t_end
    started = time.perf_counter()
    checkpoint = {} if args.checkpoint is None else dict(checkpoint=out,
                                                        checkpoint_every=args.checkpoint)
    rec = simulate(net, t_end=t_end, n_spikes=args.n_spikes, warmup=args.warmup,
                   record=args.record, progress=not args.quiet, continue_from=previous,
                   **checkpoint)
    took = time.perf_counter() - started
    print(net)
    print(rec.summary())
    if "populations" in rec.meta:
        from .analysis.populations import population_summaries
        print(labelled([(f"population {name}", f"rate {values['rate']:.4g} Hz, ISI CV "
                                                f"{values['cv_isi']:.3g}")
                        for name, values in population_summaries(rec).items()]))
    spikes = int(rec.counts.sum())
    print(labelled([("wall time (s)",
                     f"{took:.3g}  ({took / max(spikes, 1) * 1e9:.3g} ns per recorded spike)")]))
    if out is not None:
        if not checkpoint:
            rec.save(out, overwrite=overwrite)
        print(labelled([("written", out)]))
    return 0


BRUNEL = ("n_e", "g", "eta", "j", "delay", "t_ref", "seed", "ic_seed", "connectivity",
          "noise_seed", "external")
"""The simulate options of ``--network brunel``: ``sp.brunel``'s parameters (its defaults)."""


def _brunel(args):
    from .specification.populations import brunel
    other = [("-" if len(name) == 1 else "--") + name.replace("_", "-")
             for name in NETWORK_OPTIONS
             if name not in BRUNEL + ("network", "warmup", "record", "poisson")
             and getattr(args, name) is not None]
    if other:
        raise ValueError(f"--network brunel takes Brunel's parameters (--n-e, --g, --eta, --j, "
                         f"--delay, --t-ref, --seed, --connectivity, --external, --poisson, "
                         f"--noise-seed): "
                         f"leave out {', '.join(other)}")
    return brunel(inputs=[_poisson(given) for given in args.poisson or ()],
                  **{name: getattr(args, name) for name in BRUNEL
                     if getattr(args, name) is not None})


def _poisson(given):
    """A ``--poisson POP RATE WEIGHT SOURCES`` option as a PoissonInput."""
    from .specification.inputs import PoissonInput
    pop, *numbers = given
    try:
        rate, weight, sources = float(numbers[0]), float(numbers[1]), int(numbers[2])
    except ValueError:
        raise ValueError(f"--poisson {' '.join(given)}: give POP RATE WEIGHT SOURCES (a "
                         "population name, Hz per source, a voltage jump, an integer)") from None
    return PoissonInput(pop, rate, weight, sources)


def _network(args):
    """The Network the simulate options describe (DEFAULTS where one is not given)."""
    from .specification.network import Network
    if args.network == "brunel":
        return _brunel(args)
    brunel_only = [f"--{name.replace('_', '-')}" for name in ("n_e", "g", "eta", "j", "delay",
                                                               "noise_seed", "poisson",
                                                               "external")
                   if getattr(args, name) is not None]
    if brunel_only:
        raise ValueError(f"{', '.join(brunel_only)}: options of --network brunel")
    value = {name: getattr(args, name) if getattr(args, name) is not None else DEFAULTS.get(name)
             for name in NETWORK_OPTIONS}
    model = MODELS[value["model"]](tau=value["tau"])
    if args.drive is not None or args.coupling is not None:
        coupling = dict(drive=args.drive, coupling=args.coupling)
    else:
        coupling = dict(j0=value["j0"], target_rate=value["rate"])
    return Network(model=model, n=value["n"], k=value["k"], seed=value["seed"],
                   ic_seed=args.ic_seed, connectivity=value["connectivity"],
                   t_ref=value["t_ref"], **coupling)


def _sweep(args):
    from .distributed import SweepError, run_sweep
    from .specification.sweep import Sweep

    sweep = Sweep.load(args.spec)
    if args.plots:
        if "://" in str(args.out):
            raise ValueError("--plots writes PNG files next to the store: --out must be a "
                             f"local path; got {args.out}")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ValueError("--plots needs matplotlib: pip install -e \".[plots]\"") from None
    try:
        report = run_sweep(sweep, args.out, scheduler=args.scheduler, workers=args.workers,
                           in_process=args.in_process or None, resume=args.resume,
                           overwrite=args.overwrite, progress=not args.quiet)
    except SweepError as exc:
        print(exc.report, file=sys.stderr)
        print(f"sparseprop: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:     # Ctrl-C: stopped cleanly, resumable (SweepInterrupted)
        print(f"sparseprop: {exc or 'interrupted'}", file=sys.stderr)
        return 130
    print(report)
    if args.plots:
        from .plotting import write_sweep_figures
        for path in write_sweep_figures(args.out):
            print(labelled([("figure", path)]))
    return 0


def _version(module):
    try:
        return importlib.import_module(module).__version__
    except Exception:   # absent or broken: report, never fail
        return "not installed"


def _info(args):
    print(f"sparseprop-gpu  {__version__}")
    print(f"python          {platform.python_version()} ({sys.executable})")
    for name in ("numpy", "numba", "zarr", "tqdm", "numba_cuda", "cupy", "dask", "distributed"):
        print(f"{name:<15} {_version(name)}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"backend cpu     available ({cores} cores)")
    from .engine import cuda
    usable, message = cuda.status()
    print(f"backend cuda    {'available' if usable else 'not available'}: {message}")
    print(f"backend auto    {'cuda' if usable else 'cpu'}")
    from numba.core.config import CACHE_DIR
    print(f"numba cache     {CACHE_DIR or 'next to the package sources (__pycache__)'}")
    return 0


BENCH_SIZES = (1_000, 10_000)
"""Default sizes of ``sparseprop bench`` (the reference network fires at about 3.4 Hz)."""


def _print_row(row):
    """One row of ``sparseprop bench``'s table (a ``bench.measure`` dict)."""
    print(f"{row['n']:>9} {row['t_sim']:>7.3g} {row['spikes']:>10} {row['rate_hz']:>8.3g} "
          f"{row['wall_s']:>8.3g} {row['us_per_spike']:>9.3g} "
          f"{row['wall_per_sim_s']:>13.3g} {row['spikes_per_s']:>10.3g}", flush=True)


def _bench(args):
    from . import bench
    sizes = args.n or list(BENCH_SIZES)
    if not 1 <= args.k <= 2**31 - 2:
        raise ValueError(f"-k must be an integer in [1, {2**31 - 2}]; got {args.k}")
    low = max(2, args.k + 1)
    bad = [n for n in sizes if not low <= n <= 2**31 - 1]
    if bad:
        raise ValueError(f"-n must be an integer in [{low}, {2**31 - 1}] (at least 2 and more "
                         f"than -k = {args.k}); got {bad[0]}")
    if not args.t_end > 0 or args.t_end == float("inf"):
        raise ValueError(f"--t-end must be a finite number of simulated seconds > 0; got "
                         f"{args.t_end:g}")
    if not args.repeat >= 1:
        raise ValueError(f"--repeat must be an integer >= 1; got {args.repeat}")
    if not args.brunel_t_end > 0 or args.brunel_t_end == float("inf"):
        raise ValueError(f"--brunel-t-end must be a finite number of simulated seconds > 0; "
                         f"got {args.brunel_t_end:g}")
    brunel = None
    if args.brunel is not None:
        from .specification.populations import brunel as model_a
        brunel = model_a(n_e=args.brunel, g=5.0, eta=2.0, external="poisson", seed=1)
    print(f"sparseprop-gpu {__version__}; {bench.machine()}")
    print(f"inhibitory LIF network, K = {args.k}, tau = 10 ms, j0 = 1, target rate 1 Hz, "
          f"seed 1 (bench.reference_network); CPU backend, one instance, one thread; best of "
          f"{args.repeat} runs of --t-end {args.t_end:g} s, compilation untimed")
    print(f"{'N':>9} {'sim s':>7} {'spikes':>10} {'rate Hz':>8} {'wall s':>8} "
          f"{'us/spike':>9} {'wall s/sim s':>13} {'spikes/s':>10}")
    for n in sizes:
        _print_row(bench.measure(bench.reference_network(n, args.k), args.t_end, args.repeat))
    if brunel is not None:
        print(f"Brunel's model A, N_E = {args.brunel}, g 5, eta 2, its Poisson input as exact "
              f"events (sp.brunel(external='poisson'); benchmarks/peers.py's network (b)), "
              f"--brunel-t-end {args.brunel_t_end:g} s")
        _print_row(bench.measure(brunel, args.brunel_t_end, args.repeat))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="sparseprop", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sparseprop-gpu {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="simulate one network and print its statistics",
                         description="Simulate one network exactly with SparseProp. Defaults: "
                         "an inhibitory LIF network, N=10000, K=100, balanced state with "
                         "j0=1 and a 1 Hz target rate, 10 s.")
    sim.add_argument("--model", choices=list(MODELS),
                     help="default lif; eif: EIF with its default parameters (sparseprop_gpu.EIF)")
    sim.add_argument("-n", type=int, help="neurons (default 10000)")
    sim.add_argument("-k", type=int, help="out-degree (default 100)")
    sim.add_argument("--tau", type=float, help="membrane time constant, s (default 0.01)")
    sim.add_argument("--j0", type=float, help="balanced coupling strength (default 1)")
    sim.add_argument("--rate", type=float, help="target rate, Hz (default 1)")
    sim.add_argument("--drive", type=float, help="direct drive I (with --coupling)")
    sim.add_argument("--coupling", type=float,
                     help="direct coupling J (with --drive; J > 0 is excitatory)")
    sim.add_argument("--t-ref", type=float,
                     help="refractory period, s (default 0; 0.002 with --network brunel)")
    sim.add_argument("--network", choices=("single", "brunel"),
                     help="single: one population (the options above; the default); brunel: "
                          "Brunel's (2000) model A, E and I populations with delays "
                          "(sp.brunel, the options below)")
    sim.add_argument("--n-e", type=int, help="brunel: excitatory neurons (default 10000)")
    sim.add_argument("--g", type=float, help="brunel: relative inhibition (default 5)")
    sim.add_argument("--eta", type=float,
                     help="brunel: external rate nu_ext / nu_thr (default 2; > 1 with "
                          "--external mean)")
    sim.add_argument("--external", choices=("mean", "poisson"),
                     help="brunel: the paper's Poisson input (neurons at rest, exact events) "
                          "or its mean as a constant drive (the default)")
    sim.add_argument("--j", type=float, help="brunel: EPSP, mV (default 0.1)")
    sim.add_argument("--delay", type=float, help="brunel: synaptic delay, s (default 0.0015)")
    sim.add_argument("--poisson", nargs=4, action="append",
                     metavar=("POP", "RATE", "WEIGHT", "SOURCES"),
                     help="brunel: Poisson input onto population POP (E or I), SOURCES "
                          "independent sources of RATE Hz each per neuron, WEIGHT the voltage "
                          "jump in units of theta - v_reset; once per population")
    sim.add_argument("--noise-seed", type=int,
                     help="brunel: seed of the Poisson input (default: --seed)")
    sim.add_argument("--t-end", type=float,
                     help="end time, s (default 10; 0 with --n-spikes: no time limit)")
    sim.add_argument("--n-spikes", type=int, help="stop after recording this many spikes")
    sim.add_argument("--warmup", type=float, help="discard spikes before this time, s (default 0)")
    sim.add_argument("--record", choices=RECORD, help="default spikes")
    sim.add_argument("--connectivity", choices=CONNECTIVITY, help="default auto")
    sim.add_argument("--seed", type=int, help="network seed (default 0)")
    sim.add_argument("--ic-seed", type=int, help="initial-condition seed (default: --seed)")
    sim.add_argument("--out", help="write the record to this .zarr or .npz path")
    sim.add_argument("--overwrite", action="store_true",
                     help="replace the record at --out (only a record written by sparseprop)")
    sim.add_argument("--continue", dest="continue_from", metavar="RECORD",
                     help="continue the run of this record (to --t-end or --n-spikes of the "
                     "whole run, bitwise as one run) and write it back there (or to --out)")
    sim.add_argument("--checkpoint", type=float, metavar="SECONDS",
                     help="save the run to --out every SECONDS of wall time; the same command "
                     "run again after a kill continues from there")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(func=_simulate)

    sweep = sub.add_parser("sweep", help="run a parameter sweep into a Zarr store",
                           description="Run the sweep of a TOML specification ([network], "
                           "[sweep], [run]; see examples/quickstart.toml) on an embedded Dask "
                           "LocalCluster, any Dask cluster (--scheduler) or this process, "
                           "writing every batch into the Zarr store --out. "
                           "Read it with sp.open_results(OUT).")
    sweep.add_argument("spec", help="the sweep specification, a TOML file")
    sweep.add_argument("--out", required=True, help="the Zarr store (a path or an fsspec URL)")
    sweep.add_argument("--scheduler", help="address of a running Dask scheduler, "
                       "e.g. tcp://host:8786 (default: an embedded LocalCluster)")
    sweep.add_argument("--workers", type=int,
                       help="process workers of the embedded cluster (default: one per core, "
                            "or per GPU, and at most one per 4 batches)")
    sweep.add_argument("--in-process", action="store_true",
                       help="run the batches in this process, without Dask")
    sweep.add_argument("--resume", action="store_true",
                       help="run only the batches missing from an unfinished store of this sweep")
    sweep.add_argument("--overwrite", action="store_true",
                       help="delete what --out holds and start again")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.add_argument("--plots", action="store_true",
                       help="write PNG figures (heat maps or curves of the summaries, rate and "
                       "ISI CV histograms, a raster with spikes) next to the store as "
                       "<store>_<figure>.png; needs matplotlib")
    sweep.set_defaults(func=_sweep)

    ben = sub.add_parser("bench", help="time the engine on the reference network here",
                         description="Time our engine (CPU backend, one thread) on the "
                         "reference inhibitory LIF network (K = 100, tau = 10 ms, j0 = 1, "
                         "target rate 1 Hz) and print microseconds of wall time per network "
                         "spike, wall seconds per simulated second and spikes per second. "
                         "benchmarks/peers.py runs the same networks in NEST and Brian2.")
    ben.add_argument("-n", type=int, nargs="+", action="extend", metavar="N",
                     help="network sizes, each > K (repeatable; default 1000 10000)")
    ben.add_argument("-k", type=int, default=100, help="out-degree (default 100)")
    ben.add_argument("--t-end", type=float, default=10.0,
                     help="simulated seconds of each run, > 0 (default 10)")
    ben.add_argument("--repeat", type=int, default=3,
                     help="timed runs per size, the fastest kept (default 3)")
    ben.add_argument("--brunel", type=int, nargs="?", const=10_000, metavar="N_E",
                     help="also Brunel's model A with its Poisson input, N_E excitatory "
                          "neurons (default 10000: N = 12500, benchmarks/peers.py's (b))")
    ben.add_argument("--brunel-t-end", type=float, default=0.2,
                     help="simulated seconds of the Brunel run, > 0 (default 0.2)")
    ben.set_defaults(func=_bench)

    info = sub.add_parser("info", help="versions, backends, whether a GPU is usable")
    info.set_defaults(func=_info)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"sparseprop: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
