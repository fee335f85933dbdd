"""Spikes into the ecosystem's own files and objects, read back by those libraries: an NWB
file (pynwb, the ``nwb`` extra) and a neo ``SpikeTrainList`` (the ``neo`` extra)."""

import numpy as np
import pynwb                                # the dev extra holds both: CI runs these
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import analysis as an


def sources():
    net = sp.Network(model=sp.LIF(tau=0.01), n=50, k=5, j0=1.0, target_rate=5.0, seed=1)
    rec = sp.simulate(net, t_end=0.5, warmup=0.1)
    ens = sp.run_ensemble(sp.Ensemble(net, seeds=[1, 2, 3]), t_end=0.5, record="spikes")
    return rec, ens


def test_a_record_and_an_ensemble_round_trip_through_an_nwb_file(tmp_path):
    rec, ens = sources()
    for name, source, instances in (("rec", rec, 1), ("ens", ens, 3)):
        path = an.write_nwb(source, tmp_path / f"{name}.nwb")
        assert not [p for p in tmp_path.iterdir() if ".partial." in p.name]
        with pynwb.NWBHDF5IO(str(path), "r") as io:
            units = io.read().units
            assert len(units) == 50 * instances
            instance = np.asarray(units["instance"].data[:])
            neuron = np.asarray(units["neuron"].data[:])
            for u in (0, 7, len(units) - 1):
                m, i = int(instance[u]), int(neuron[u])
                times, senders = (rec.times, rec.senders) if instances == 1 else \
                    ens.sp.spikes(m)
                np.testing.assert_array_equal(units["spike_times"][u], times[senders == i])
            window = units["obs_intervals"][0]
            assert window[0][0] == pytest.approx(0.1 if instances == 1 else 0.0)
    with pytest.raises(ValueError, match="exists; write_nwb overwrites nothing"):
        an.write_nwb(rec, tmp_path / "rec.nwb")


def test_spikes_become_a_neo_spiketrainlist():
    rec, ens = sources()
    trains = an.to_neo_spiketrains(rec)
    assert len(trains) == 50
    np.testing.assert_array_equal(np.asarray(trains[3].times.rescale("s").magnitude),
                                  rec.times[rec.senders == 3])
    second = an.to_neo_spiketrains(ens, instance=1)
    times, senders = ens.sp.spikes(1)
    np.testing.assert_array_equal(np.asarray(second[4].times.rescale("s").magnitude),
                                  times[senders == 4])
