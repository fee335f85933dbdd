"""The formula datasets and the layered target tables of the training showcases
(docs/design.md §2.21): the Yin-Yang classes at points whose class the symbol's geometry fixes,
balance and reproducibility; layered tables are valid networks whose padding changes nothing,
and their gradient per connection equals central differences of the engine."""

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu.datasets import yin_yang, yin_yang_class
from sparseprop_gpu.runs.gradient import backward, trajectory
from sparseprop_gpu.specification.layered import layered


def test_yin_yang_classes_at_points_the_symbol_fixes():
    x = np.array([0.25, 0.75, 0.5, 0.5, 0.25, 0.75, 0.75])
    y = np.array([0.5, 0.5, 0.9, 0.1, 0.32, 0.68, 0.32])
    # the two dots; the top and bottom; inside the left half-disc (yin), the right (yang)
    np.testing.assert_array_equal(yin_yang_class(x, y), [2, 2, 1, 0, 1, 0, 0])


def test_yin_yang_is_balanced_inside_the_disc_and_reproducible():
    points, labels = yin_yang(3000, seed=42)
    assert np.bincount(labels).tolist() == [1000, 1000, 1000]
    assert np.all(np.hypot(points[:, 0] - 0.5, points[:, 1] - 0.5) <= 0.5)
    np.testing.assert_array_equal(yin_yang_class(*points.T), labels)
    again, _ = yin_yang(3000, seed=42)
    np.testing.assert_array_equal(points, again)
    assert not np.array_equal(points, yin_yang(3000, seed=43)[0])
    with pytest.raises(ValueError, match="size"):
        yin_yang(0, seed=1)


def test_layered_tables_connect_each_layer_to_the_next_only():
    targets, mask, first = layered([4, 6, 3])
    assert targets.shape == (13, 6) and first.tolist() == [0, 4, 10]
    for j in range(4):
        assert set(targets[j][mask[j]]) == set(range(4, 10))
    for j in range(4, 10):
        assert set(targets[j][mask[j]]) == set(range(10, 13)) and mask[j].sum() == 3
    assert not mask[10:].any()
    sp.Network(model=sp.QIF(), n=13, k=6, drive=0.01, targets=targets,
               weights=np.zeros((13, 6)))                 # distinct targets, no autapses
    with pytest.raises(ValueError, match="at least two layers"):
        layered([5])


def test_a_layered_network_s_gradient_equals_central_differences():
    targets, mask, first = layered([3, 5, 2])
    rng = np.random.default_rng(1)
    weights = rng.normal(0.3, 0.5, targets.shape) * mask
    phases = np.zeros(10)
    phases[:3] = np.pi - np.array([0.1, 0.3, 0.2])        # the inputs fire first

    def run(w):
        net = sp.Network(model=sp.QIF(tau=0.01), n=10, k=5, drive=0.01, targets=targets,
                         weights=w, initial_phases=phases)
        return trajectory(net, 20)
    kept = run(weights)
    dl_dt = rng.normal(size=20)
    grad = backward(kept, dl_dt, per_synapse=True).synapses
    for j, c in [(0, 2), (4, 1)]:                         # input -> hidden, hidden -> output
        h = 1e-6
        up, down = weights.copy(), weights.copy()
        up[j, c] += h
        down[j, c] -= h
        a, b = run(up), run(down)
        np.testing.assert_array_equal(a.senders, kept.senders)
        np.testing.assert_array_equal(b.senders, kept.senders)
        assert grad[j, c] == pytest.approx(dl_dt @ (a.times - b.times) / (2 * h), rel=1e-6)


def test_ties_replay_where_a_phase_rounds_past_threshold():
    """All weights zero: the 123 neurons after the inputs start alike and fire in one instant;
    replayed, a tied neuron's phase can round just past pi, where QIF's curve would wrap it to
    -pi (the replay clamps it, as the engine's key holds it at threshold)."""
    targets, mask, first = layered([5, 120, 3])
    phases = np.zeros(targets.shape[0])
    phases[:5] = np.pi - np.array([0.04, 0.1, 0.2, 0.3, 0.04])
    net = sp.Network(model=sp.QIF(tau=0.01), n=targets.shape[0], k=targets.shape[1],
                     drive=0.01, targets=targets, weights=np.zeros(targets.shape),
                     initial_phases=phases)
    run = trajectory(net, 2 * net.n)
    assert run.ties > 200
    assert np.all(np.isfinite(backward(run, np.ones(run.times.size)).initial_phases))
