"""Malformed input gets a ValueError naming the parameter and what is allowed, not numpy's
message or a silent cast (issue 11.9)."""
import warnings

import numpy as np
import pytest

import sparseprop_gpu as sp

LIF = dict(model=sp.LIF(tau=0.01), n=4, k=2, j0=1.0, target_rate=1.0)


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("changes, words", [
    (dict(initial_phases=np.array([0.1, 0.2, 0.3, 0.4 + 1j])), ["initial_phases", "real",
                                                               "complex"]),
    (dict(initial_phases=[0.1, [0.2, 0.3], 0.3, 0.4]), ["initial_phases", "ragged"]),
    (dict(initial_phases=["a", "b", "c", "d"]), ["initial_phases", "real"]),
    (dict(initial_voltages=np.zeros(4, complex)), ["initial_voltages", "real"]),
    (dict(j0=None, target_rate=None, coupling=-0.1,
          drive=sp.heterogeneous(np.full(4, 1.5 + 0j))), ["drive", "real"]),
    (dict(j0=None, target_rate=None, coupling=-0.1,
          drive=sp.heterogeneous([1.5, [1.6], 1.7, 1.8])), ["drive", "ragged"]),
    (dict(targets=[[1, 2], [0], [0, 1], [0, 1]]), ["targets", "(n, k) = (4, 2)", "ragged"]),
    (dict(targets=[[1, 2], [0, "x"], [0, 1], [0, 1]]), ["targets", "integers"]),
])
def test_malformed_network_input(changes, words):
    with pytest.raises(ValueError) as err:
        sp.Network(**{**LIF, **changes})
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("kwargs, words", [
    (dict(j0=np.ones((2, 3))), ["j0", "1-D", "(2, 3)"]),
    (dict(seeds=[[1, 2], [3]]), ["seeds", "ragged"]),
    (dict(target_rate=np.ones((1, 1))), ["target_rate", "(1, 1)"]),
])
def test_malformed_ensemble_input(kwargs, words):
    with pytest.raises(ValueError) as err:
        sp.Ensemble(sp.Network(**LIF), **kwargs)
    for word in words:
        assert word in str(err.value)


def test_a_zero_dimensional_array_is_one_value():
    ensemble = sp.Ensemble(sp.Network(**LIF), j0=np.array(2.0), seeds=[1, 2])
    assert list(ensemble.parameters()["j0"]) == [2.0, 2.0]


@pytest.mark.parametrize("model, kw, given", [
    (sp.LIF(tau=1e-300), dict(j0=1.0), "tau = 1e-300"),
    (sp.LIF(tau=0.01), dict(j0=1e-14), "j0 = 1e-14"),
    (sp.QIF(tau=1e-200), dict(j0=1e-200), "tau = 1e-200"),
])
def test_a_derived_drive_names_what_was_given(model, kw, given):
    with pytest.raises(ValueError) as err:
        sp.Network(model=model, n=100, k=10, target_rate=1.0, **kw)
    assert str(err.value).startswith("the balanced drive")
    assert given in str(err.value)


def test_in_a_sweep_the_derived_drive_names_the_point():
    with pytest.raises(ValueError, match=r"j0=1e-14.*the balanced drive"):
        sp.Sweep({"model": "lif", "n": 100, "k": 10, "target_rate": 1.0},
                 {"j0": [1.0, 1e-14]}, {"t_end": 0.1})
