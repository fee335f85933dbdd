"""Feedforward layers as one network: a target table over the layers, with a mask of the
connections that exist (the others are padding of weight zero; docs/design.md §2.21)."""
import numpy as np

from .. import validate


def layered(sizes):
    """The target table of all-to-all layers ``sizes[0] -> sizes[1] -> ...`` in one network of
    ``n = sum(sizes)`` neurons (layer l's neurons follow layer l-1's), out-degree ``k`` the
    widest layer after the first.

    Row j of a neuron of layer l holds layer l+1's neurons, then padding: distinct other
    neurons outside layer l+1 (a neuron of the last layer has only padding). The padding's
    weights must stay zero; its inputs cost O(1) each and change no phase.

    Returns
    -------
    targets : ndarray of int64 (n, k)
    mask : ndarray of bool (n, k)
        True where a connection exists (multiply the weights and their gradients by it).
    first : ndarray of int64 (len(sizes),)
        The index of each layer's first neuron.
    """
    sizes = [validate.integer(f"sizes[{i}]", s, 1, 2**31 - 1) for i, s in enumerate(sizes)]
    if len(sizes) < 2:
        raise ValueError(f"sizes: at least two layers; got {len(sizes)}")
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    n, k = int(sum(sizes)), max(sizes[1:])
    targets, mask = np.zeros((n, k), np.int64), np.zeros((n, k), bool)
    for layer, size in enumerate(sizes):
        later = (np.arange(first[layer + 1], first[layer + 1] + sizes[layer + 1])
                 if layer + 1 < len(sizes) else np.zeros(0, np.int64))
        outside = np.setdiff1d(np.arange(n), later)
        for j in range(first[layer], first[layer] + size):
            pad = outside[outside != j][:k - later.size]
            targets[j] = np.concatenate([later, pad])
            mask[j, :later.size] = True
    return targets, mask, first
