"""The InstanceTable: the only road from a specification to the engine."""
import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu.engine.batch import Batch
from sparseprop_gpu.kernels import models as km
from sparseprop_gpu.specification.instances import InstanceError, InstanceTable

from conftest import assert_same_spikes, record_calls


@pytest.fixture(scope="module")
def base():
    return sp.Network(model=sp.LIF(tau=0.01), n=120, k=12, j0=1.0, target_rate=2.0, seed=3)


def test_columns_default_to_the_network_and_broadcast(base):
    table = InstanceTable(base, seed=[4, 5, 6], j0=1.5)
    assert len(table) == 3
    pars = table.parameters()
    np.testing.assert_array_equal(pars["seed"], [4, 5, 6])
    np.testing.assert_array_equal(pars["ic_seed"], [4, 5, 6])     # follows the seeds
    np.testing.assert_array_equal(pars["n"], [120] * 3)
    np.testing.assert_array_equal(pars["j0"], [1.5] * 3)
    one = table.network(1)
    assert (one.seed, one.ic_seed, one.j0, one.n) == (5, 5, 1.5, 120)
    np.testing.assert_array_equal(pars["drive"], [one.drive] * 3)    # derived per row
    np.testing.assert_array_equal(pars["coupling"], [one.coupling] * 3)


def test_the_first_bad_instance_is_named_with_the_scalar_checks_message(base):
    with pytest.raises(InstanceError, match=r"instance 2: n must be an integer in \[2,") as info:
        InstanceTable(base, n=[50, 60, 1])
    assert (info.value.instance, info.value.name) == (2, "n")
    with pytest.raises(InstanceError, match=r"instance 1: k must be an integer in \[1, 29\]"):
        InstanceTable(base, n=[50, 30], k=[10, 30])
    with pytest.raises(InstanceError, match="instance 3: j0 must be in"):
        InstanceTable(base, j0=[1.0, 2.0, 1.0, -1.0])
    with pytest.raises(InstanceError, match="instance 0: seed"):
        InstanceTable(base, seed=[-1, 2])
    with pytest.raises(ValueError, match="same length"):
        InstanceTable(base, seed=[1, 2], j0=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="drive given per instance"):
        InstanceTable(base, drive=[1.2, 1.3])


def test_the_model_is_checked_once_per_distinct_row(base, monkeypatch):
    calls = record_calls(monkeypatch, sp.LIF, "check_drive")
    InstanceTable(base, seed=np.arange(1000), j0=np.tile([1.0, 2.0], 500))
    assert len(calls) == 2                  # two distinct rows among 1000 instances


def test_simulate_is_a_table_of_one(base):
    table = InstanceTable.of(base)
    assert len(table) == 1 and table.network(0).seed == base.seed
    batch = Batch(**table.engine_inputs(np.array([0]), km.KEY_EXP), buffer_spikes=64)
    assert batch.size == 1 and batch.n[0] == base.n and batch.key_kind == km.KEY_EXP
    np.testing.assert_array_equal(batch.target_table, base.target_table())


def test_every_instance_of_a_table_runs_as_its_own_network(base):
    ens = sp.Ensemble(base, seeds=[7, 8], n=[100, 120], j0=[0.8, 1.2])
    out = sp.run_ensemble(ens, t_end=0.3, record="spikes", backend="cpu")
    for m in range(2):
        alone = sp.simulate(ens.table.network(m), t_end=0.3)
        assert_same_spikes(alone, out.sp.record(m), atol=0.0)


def test_instances_with_one_table_model_row_share_one_lookup_table():
    net = sp.Network(model=sp.EIF(tau=0.01), n=100, k=10, j0=1.0, target_rate=2.0, seed=0)
    table = InstanceTable(net, seed=[1, 2, 3], j0=[1.0, 1.5, 1.0])
    inputs = table.engine_inputs(np.arange(3), km.KEY_PHASE)
    assert inputs["lookups"][0] is inputs["lookups"][2]
    assert inputs["lookups"][0] is not inputs["lookups"][1]
