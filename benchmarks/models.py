"""Cost per synaptic event of each model and key against closed-form homogeneous LIF.

Run:  python benchmarks/models.py            (N = 1e5, K = 100; about a minute)
      python benchmarks/models.py --n 10000

Side by side in one process, best of three. Targets (issue 3): EIF with tables within 2x
of homogeneous LIF, heterogeneous LIF within 1.5x, table build under 1 s.

Heterogeneous networks: a +-40 % sinusoidal profile of the external drive over the neurons
(and of tau where said); for EIF, four populations with drives 0.06 to 0.14 (one table each).
"""
import argparse
import time

import numpy as np

import sparseprop_gpu as sp
from engine_scaling import sparseprop_cost

K = 100


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    n = parser.parse_args().n

    def profile(i, size):
        return 0.1 * (1 + 0.4 * np.sin(2 * np.pi * i / size))

    def lif(**kw):
        return sp.Network(model=sp.LIF(tau=0.01), n=n, k=K, j0=1.0, target_rate=1.0, seed=1, **kw)

    rows = [("LIF, homogeneous, exp key", lif(), "exp"),
            ("LIF, homogeneous, phase key", lif(), "phase"),
            ("LIF, per-neuron drive, exp-time key", lif(drive=sp.heterogeneous(profile)), "exp"),
            ("LIF, per-neuron drive, time key", lif(drive=sp.heterogeneous(profile)), "time"),
            ("LIF, per-neuron drive and tau, time key",
             lif(drive=sp.heterogeneous(profile),
                 tau=sp.heterogeneous(lambda i, size: 0.01 * (1 + 0.2 * np.cos(i)))), "time"),
            ("QIF, homogeneous, phase key",
             sp.Network(model=sp.QIF(tau=0.01), n=n, k=K, j0=1.0, target_rate=1.0, seed=1),
             "phase"),
            ("EIF (tables), two lookups per input, phase key",
             sp.Network(model=sp.EIF(tau=0.01, input_map=False), n=n, k=K, j0=1.0,
                        target_rate=1.0, seed=1), "phase"),
            ("EIF (tables), 4 distinct drives, time key",
             sp.Network(model=sp.EIF(tau=0.01), n=n, k=K, j0=1.0, target_rate=1.0, seed=1,
                        drive=sp.heterogeneous(lambda i, size: 0.06 + 0.08 / 3 * (4 * i // size))),
             "time"),
            ("EIF (tables), input map, phase key",
             sp.Network(model=sp.EIF(tau=0.01), n=n, k=K, j0=1.0, target_rate=1.0, seed=1),
             "phase")]
    from sparseprop_gpu.kernels import lookup as kt
    from sparseprop_gpu.specification.lookup import build_table, with_input_map
    build_table.cache_clear()
    with_input_map.cache_clear()
    eif = rows[-1][1]
    tick = time.perf_counter()
    data = eif.model.table(eif.drive)
    built = time.perf_counter()
    tab = eif.model.tables(eif.drive, eif.coupling)[0]       # what the engine reads
    done = time.perf_counter()
    print(f"EIF table build: {built - tick:.3f} s ({data.cells} cells per table, "
          f"{data.array.nbytes} bytes, PTC error {data.error:.1e} against direct quadrature); "
          f"input map of J = {eif.coupling:g}: {done - built:.3f} s more ({tab[kt.T_NR]:.0f} "
          f"cells on remaining phase [{tab[kt.T_R_LO]:g}, {tab[kt.T_R_HI]:.3g}], "
          f"{tab.nbytes - data.array.nbytes} bytes)")
    base = None
    print(f"ns per synaptic event, N = {n}, K = {K}, best of 3; ratio to the first row")
    for label, net, key in rows:
        value = sparseprop_cost(net, 100_000, 3, key=key)[0] / K
        base = base or value
        print(f"  {label:<48} {value:7.2f}  {value / base:5.2f}x")


if __name__ == "__main__":
    main()
