"""Datasets defined by a formula, generated here (no download)."""
import numpy as np

from . import validate

R_BIG, R_SMALL = 0.5, 0.1


def yin_yang_class(x, y):
    """The class of points (x, y) of the Yin-Yang symbol (Kriener et al. 2021): 0 yang, 1 yin,
    2 the dots; the symbol is the disc of radius 0.5 about (0.5, 0.5)."""
    right = np.hypot(x - 1.5 * R_BIG, y - R_BIG)          # the centres of the small discs
    left = np.hypot(x - 0.5 * R_BIG, y - R_BIG)
    yin = (right <= R_SMALL) | ((left > R_SMALL) & (left <= 0.5 * R_BIG)) | (
        (y > R_BIG) & (right > 0.5 * R_BIG))
    dots = (right < R_SMALL) | (left < R_SMALL)
    return np.where(dots, 2, yin.astype(np.int64))


def yin_yang(size, seed):
    """``size`` points of the Yin-Yang dataset, uniform in the disc and balanced over the three
    classes (sample i has class i mod 3), drawn from ``seed``.

    Returns
    -------
    points : ndarray (size, 2)
        (x, y) in [0, 1]^2.
    labels : ndarray of int64 (size,)
        0 yang, 1 yin, 2 dots.
    """
    size = validate.integer("size", size, 1, 10**8)
    seed = validate.integer("seed", seed, 0, 2**63 - 1)
    rng = np.random.default_rng([seed, 0x717])
    want = np.arange(size) % 3
    points = np.empty((size, 2))
    found = {c: [] for c in range(3)}
    while any(len(found[c]) < np.sum(want == c) for c in range(3)):
        xy = rng.uniform(0.0, 2 * R_BIG, (4 * size + 64, 2))
        xy = xy[np.hypot(xy[:, 0] - R_BIG, xy[:, 1] - R_BIG) <= R_BIG]
        label = yin_yang_class(xy[:, 0], xy[:, 1])
        for c in range(3):
            found[c].extend(xy[label == c])
    for c in range(3):
        points[want == c] = np.array(found[c][:np.sum(want == c)])
    return points, want
