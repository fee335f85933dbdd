"""Host-side tables of the time to spike for models tau dV/dt = F(V) + I
(docs/design.md §2.3).

``build_table`` integrates ``s(V) = integral_V^{V_spike} du / (F(u) + I)`` (time to
spike over tau) by Gauss-Legendre quadrature on a fine reference grid ("direct
quadrature"), inverts it by safeguarded Newton steps, fits piecewise polynomials
(``kernels.lookup.NC`` Chebyshev nodes per cell) to s(V) and to its inverse, and
doubles the cells until the phase transition curve's largest error against the
direct quadrature, at random phases and inputs, is below ``tol / 10``. The result
is one flat float64 array in the ``kernels.lookup`` layout, cached per model and
drive.
"""
import functools
import math
import time

import numpy as np
from numba import njit
from numpy.polynomial import chebyshev
from numpy.polynomial.legendre import leggauss

from ..compiled import kernels_digest
from ..kernels import lookup as kt

GL_X, GL_W = leggauss(24)
REF_CELLS = 8192          # direct quadrature: 24-point Gauss-Legendre on this many cells
S_FLOOR = 1e-17           # below s = S_FLOOR * s_r, V(s) is a straight line to v_spike
S_SPLIT = 0.25            # inverse: cells in ln s below s = S_SPLIT * s_r, in s above
MIN_TOL = 1e-12           # the direct quadrature's own error is ~1e-13 of s_r
FIRST_CELLS = 64
MAX_CELLS = 1 << 15
MAP_LO = (0.01, 0.25)    # the input map's lowest remaining phase: the first that works
MAX_MAP_CELLS = 1 << 10
CHECK_POINTS = 1500       # random phases per input strength in the error check

# Chebyshev nodes of the first kind on [-1, 1] and the map from values there to
# the monomial coefficients (in x) of the interpolating polynomial
_NODES = np.cos(np.pi * (np.arange(kt.NC) + 0.5) / kt.NC)
_TO_CHEB = np.linalg.inv(chebyshev.chebvander(_NODES, kt.NC - 1))
_CHEB_TO_MONO = np.stack([np.pad(chebyshev.cheb2poly(np.eye(kt.NC)[j]), (0, kt.NC))[:kt.NC]
                          for j in range(kt.NC)], axis=1)
_VALUES_TO_MONO = _CHEB_TO_MONO @ _TO_CHEB


def _compiled_lookups(digest):
    """The table lookups over arrays, cached on disk (``digest``: see ``sparseprop_gpu.compiled``)."""
    @njit(cache=True)
    def time_to_spike(tab, v):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        out = np.empty(v.shape[0])
        for i in range(v.shape[0]):
            out[i] = kt.time_to_spike(tab, 0, v[i])
        return out

    @njit(cache=True)
    def voltage_at(tab, s):
        digest  # noqa: B018
        out = np.empty(s.shape[0])
        for i in range(s.shape[0]):
            out[i] = kt.voltage_at(tab, 0, s[i])
        return out

    @njit(cache=True)
    def remaining_after_input(tab, rem, kick):
        digest  # noqa: B018
        out = np.empty(rem.shape[0])
        for i in range(rem.shape[0]):
            out[i] = kt.remaining_after_input(tab, 0, rem[i], kick)
        return out

    return time_to_spike, voltage_at, remaining_after_input


_time_to_spike, _voltage_at, _remaining_after_input = _compiled_lookups(kernels_digest())


def time_to_spike(tab, v):
    """s(V) from a table (vectorised)."""
    v = np.asarray(v, float)
    return _time_to_spike(tab, np.ascontiguousarray(v.ravel())).reshape(v.shape)


def voltage_at(tab, s):
    """V(s) from a table (vectorised)."""
    s = np.asarray(s, float)
    return _voltage_at(tab, np.ascontiguousarray(s.ravel())).reshape(s.shape)


def remaining_after_input(tab, rem, kick):
    """Remaining phase 1 - g after an input ``kick`` at remaining phase ``rem`` (vectorised)."""
    rem = np.asarray(rem, float)
    return _remaining_after_input(tab, np.ascontiguousarray(rem.ravel()), float(kick)
                                  ).reshape(rem.shape)


def _vectorised_rhs(rhs):
    """F as a function of float arrays of any shape."""
    probe = np.array([0.25, 0.5])
    try:
        out = np.asarray(rhs(probe), float)
        if out.shape == probe.shape:
            return lambda v: np.asarray(rhs(v), float)
    except Exception:
        pass
    scalar = np.vectorize(lambda x: float(rhs(float(x))), otypes=[float])
    return scalar


class DirectQuadrature:
    """s(V) and V(s) by direct quadrature: the tables' reference (and error check).

    Parameters
    ----------
    rhs : callable
        F(V), vectorised.
    drive : float
    v_lo, v_top, v_spike : float
        The quadrature covers [v_lo, v_top]; (v_top, v_spike] is integrated once.
    tail : bool
        Exact leak tail (F(V) = -V) below v_lo.
    """

    def __init__(self, rhs, drive, v_lo, v_top, v_spike, tail):
        self.rhs, self.drive, self.tail = rhs, drive, tail
        self.v_lo, self.v_top, self.v_spike = v_lo, v_top, v_spike
        self.edges = np.linspace(v_lo, v_top, REF_CELLS + 1)
        self.h = (v_top - v_lo) / REF_CELLS
        a, b = self.edges[:-1], self.edges[1:]
        nodes = (a + b)[:, None] / 2 + ((b - a) / 2)[:, None] * GL_X[None, :]
        rate = rhs(nodes) + drive
        self._check_rate(nodes, rate)
        cells = (GL_W[None, :] / rate).sum(1) * (b - a) / 2
        self.s_top = self._upper_tail() if v_top < v_spike else 0.0
        self.s_edges = np.concatenate([np.cumsum(cells[::-1])[::-1], [0.0]]) + self.s_top

    def _check_rate(self, nodes, rate):
        bad = ~np.isfinite(rate)
        if bad.any():
            v = nodes[bad][0]
            raise ValueError(f"F(V) is not finite (NaN or inf) at V = {v:.6g}: the model must "
                             "give a finite F on its whole domain")
        low = rate <= 0.0
        if low.any():
            v = nodes[low].max()
            raise ValueError(f"F(V) + I <= 0 at V = {v:.6g} (drive I = {self.drive:g}): a neuron "
                             f"below there never reaches v_spike = {self.v_spike:g}, so the model "
                             "never fires (raise the drive, or change F)")

    def _upper_tail(self):
        span = self.v_spike - self.v_top
        step = self.h
        edges = self.v_top + step * np.expm1(np.linspace(0.0, math.log1p(span / step), 4001))
        edges[-1] = self.v_spike
        a, b = edges[:-1], edges[1:]
        nodes = (a + b)[:, None] / 2 + ((b - a) / 2)[:, None] * GL_X[None, :]
        rate = self.rhs(nodes) + self.drive
        self._check_rate(nodes, rate)
        return float(((GL_W[None, :] / rate).sum(1) * (b - a) / 2).sum())

    def s(self, v):
        """Time to spike over tau from each V (vectorised, 1-D)."""
        v = np.asarray(v, float)
        out = np.empty_like(v)
        inside = (v >= self.v_lo) & (v <= self.v_top)
        above = v > self.v_top
        out[above] = np.maximum(0.0, self.s_top * (self.v_spike - v[above])
                                / max(self.v_spike - self.v_top, 1e-300))
        below = v < self.v_lo
        if self.tail:
            # ln((I - V) / (I - v_lo)) without the rounding of a quotient near 1 (large I)
            out[below] = self.s_edges[0] + np.log1p((self.v_lo - v[below])
                                                    / (self.drive - self.v_lo))
        else:
            out[below] = np.nan
        vi = v[inside]
        for start in range(0, vi.shape[0], 1 << 15):
            chunk = vi[start:start + (1 << 15)]
            c = np.clip(((chunk - self.v_lo) / self.h).astype(np.int64), 0, REF_CELLS - 1)
            right = self.edges[c + 1]
            mid, half = (chunk + right) / 2, (right - chunk) / 2
            rate = self.rhs(mid[:, None] + half[:, None] * GL_X[None, :]) + self.drive
            part = (GL_W[None, :] / rate).sum(1) * half
            vi[start:start + chunk.shape[0]] = part + self.s_edges[c + 1]
        out[inside] = vi
        return out

    def v(self, s):
        """The voltage whose time to spike is s (vectorised, 1-D; s in [s_top, s(v_lo)])."""
        s = np.asarray(s, float)
        order = self.s_edges[::-1]              # increasing
        c = np.clip(np.searchsorted(order, s) - 1, 0, REF_CELLS - 1)
        hi_v = self.edges[::-1][c]              # bracket: s(hi_v) <= s <= s(lo_v)
        lo_v = self.edges[::-1][c + 1]
        v = np.interp(s, order, self.edges[::-1])
        for _ in range(60):
            sv = self.s(v)
            rate = self.rhs(v) + self.drive
            too_late = sv > s                   # v too low
            lo_v = np.where(too_late, v, lo_v)
            hi_v = np.where(too_late, hi_v, v)
            step = (sv - s) * rate
            new = v + step
            outside = ~((new > lo_v) & (new < hi_v))
            new = np.where(outside, 0.5 * (lo_v + hi_v), new)
            if np.all(np.abs(new - v) <= 4e-16 * (1.0 + np.abs(v))):
                return new
            v = new
        return v


def _fit(values):
    """Monomial coefficients (cells, NC) of the interpolants of values at the nodes."""
    return values @ _VALUES_TO_MONO.T


def _assemble(quad, s_r, s_b, v_b, s_split, cells):
    v_lo, s_lo = quad.v_lo, float(quad.s_edges[0])
    x = (_NODES[None, :] + 1.0) / 2                       # node positions within a cell
    hv = (v_b - v_lo) / cells
    fwd = _fit(quad.s((v_lo + hv * (np.arange(cells)[:, None] + x)).ravel()).reshape(cells, -1))
    u_lo, u_hi = math.log(s_b), math.log(s_split)
    hu = (u_hi - u_lo) / cells
    u = u_lo + hu * (np.arange(cells)[:, None] + x)
    inv_u = _fit(quad.v(np.exp(u).ravel()).reshape(cells, -1))
    hs = (s_lo - s_split) / cells
    s = s_split + hs * (np.arange(cells)[:, None] + x)
    inv_s = _fit(quad.v(s.ravel()).reshape(cells, -1))
    tab = np.zeros(kt.HEADER + 3 * cells * kt.NC)
    gap = quad.v_spike - v_b
    tab[kt.T_V_LO], tab[kt.T_V_B], tab[kt.T_INV_HV], tab[kt.T_NV] = v_lo, v_b, 1 / hv, cells
    tab[kt.T_S_LO], tab[kt.T_S_B], tab[kt.T_V_SPIKE] = s_lo, s_b, quad.v_spike
    tab[kt.T_LIN_FWD] = s_b / gap if gap > 0 else 0.0
    tab[kt.T_LIN_INV] = gap / s_b
    tab[kt.T_TAIL], tab[kt.T_DRIVE] = float(quad.tail), quad.drive
    tab[kt.T_U_LO], tab[kt.T_INV_HU], tab[kt.T_NU] = u_lo, 1 / hu, cells
    tab[kt.T_S_SPLIT], tab[kt.T_INV_HS], tab[kt.T_NS] = s_split, 1 / hs, cells
    tab[kt.T_S_R], tab[kt.T_INV_S_R] = s_r, 1 / s_r
    tab[kt.T_KICK] = math.nan                             # no input map (``with_input_map``)
    block = cells * kt.NC
    for j, coef in enumerate((fwd, inv_u, inv_s)):
        tab[kt.T_OFF_V + j] = kt.HEADER + j * block
        tab[kt.HEADER + j * block:kt.HEADER + (j + 1) * block] = coef.ravel()
    return tab


def _input_map_range(quad, data, kick, r_lo):
    """The remaining phases ``[r_lo, r_hi]`` where the input map of ``kick`` is smooth, or None.

    Up to where V + kick leaves the forward table (inhibition) or the inverse table
    ends; for excitation, from at least twice the remaining phase from which V + kick
    reaches the forward table's straight line (the map has a kink where it reaches
    v_spike).
    """
    tab, s_r = data.array, data.s_r
    r_hi = tab[kt.T_S_LO] / s_r
    if kick < 0.0:
        r_hi = min(r_hi, float(quad.s(np.array([quad.v_lo - kick]))[0]) / s_r)
    elif kick > 0.0:
        v_edge = tab[kt.T_V_B] - kick
        if v_edge <= quad.v_lo:
            return None
        r_lo = max(r_lo, 2.0 * float(quad.s(np.array([v_edge]))[0]) / s_r)
    return (r_lo, r_hi) if r_lo < r_hi else None


def _input_map(data, kick, tol, r_lo):
    """``data.array`` with the input map of ``kick`` on ``[r_lo, ...]``, or None."""
    quad = data.quad
    span = _input_map_range(quad, data, kick, r_lo)
    if span is None:
        return None
    r_lo, r_hi = span
    rng = np.random.default_rng(54321)
    rem = np.concatenate([rng.uniform(r_lo, r_hi, CHECK_POINTS),
                          r_lo * (r_hi / r_lo) ** rng.uniform(0.0, 1.0, CHECK_POINTS // 2)])
    ref = reference_ptc(quad, data.s_r, rem, kick)
    x = (_NODES[None, :] + 1.0) / 2
    cells = FIRST_CELLS
    while cells <= MAX_MAP_CELLS:
        h = (r_hi - r_lo) / cells
        nodes = (r_lo + h * (np.arange(cells)[:, None] + x)).ravel()
        coef = _fit(reference_ptc(quad, data.s_r, nodes, kick).reshape(cells, -1))
        tab = np.concatenate([data.array, coef.ravel()])
        tab[kt.T_KICK], tab[kt.T_R_LO], tab[kt.T_R_HI] = kick, r_lo, r_hi
        tab[kt.T_INV_HR], tab[kt.T_NR], tab[kt.T_OFF_R] = 1.0 / h, cells, data.array.shape[0]
        if np.max(np.abs(remaining_after_input(tab, rem, kick) - ref)) <= tol / 10:
            return tab
        cells *= 2
    return None


@functools.lru_cache(maxsize=64)
def with_input_map(data, kick, tol):
    """``data.array`` with the input map of ``kick`` (``kernels.lookup``) added, or unchanged.

    The map covers remaining phases from the first of ``MAP_LO`` it can; its cells
    double from ``FIRST_CELLS`` until its error against direct quadrature, at random
    remaining phases in its range, is below ``tol / 10``. A map that cannot meet it
    with ``MAX_MAP_CELLS`` is left out (inputs then take the two lookups).
    """
    for r_lo in MAP_LO:
        tab = _input_map(data, kick, tol, r_lo)
        if tab is not None:
            return tab
    return data.array


class LookupTable:
    """A built table: ``array`` (what the kernels read), ``s_r`` (period over tau), ``error``
    (largest PTC error found against direct quadrature), ``cells``, ``build_seconds``."""

    def __init__(self, array, s_r, error, cells, build_seconds, quad):
        self.array, self.s_r, self.error, self.cells = array, s_r, error, cells
        self.build_seconds, self.quad = build_seconds, quad

    def __repr__(self):
        return (f"LookupTable(cells={self.cells}, s_r={self.s_r!r}, error={self.error:.2e}, "
                f"{self.array.nbytes} bytes, built in {self.build_seconds:.3f} s)")


def reference_ptc(quad, s_r, rem, kick):
    """1 - g by direct quadrature: s(V(s_r rem) + J) / s_r (vectorised, 1-D)."""
    s = s_r * np.asarray(rem, float)
    v = np.where(s <= quad.s_top, quad.v_spike, 0.0)
    mid = s > quad.s_top
    v[mid] = quad.v(s[mid])
    return quad.s(v + kick) / s_r


@functools.lru_cache(maxsize=64)
def build_table(rhs, drive, v_reset, v_spike, v_lo, v_top, tail, tol, cells=None, kicks=None):
    """Build (and cache) the table of ``tau dV/dt = rhs(V) + drive``; see the module docstring.

    ``kicks``: input strengths the error check applies (default: a spread of
    inhibitory and excitatory jumps scaled to v_top - v_reset). Raises ValueError
    when the model never fires or the tolerance cannot be met.
    """
    start = time.perf_counter()
    if not tol >= MIN_TOL:
        raise ValueError(f"tol = {tol:g} cannot be met: the direct quadrature the tables are "
                         f"checked against is accurate to about {MIN_TOL:g} of the period")
    f = _vectorised_rhs(rhs)
    quad = DirectQuadrature(f, drive, v_lo, v_top, v_spike, tail)
    s_r = float(quad.s(np.array([v_reset]))[0])
    s_b = max(quad.s_top, S_FLOOR * s_r)
    v_b = v_top if s_b == quad.s_top else float(quad.v(np.array([s_b]))[0])
    s_split = S_SPLIT * s_r
    rng = np.random.default_rng(12345)
    rem = np.concatenate([rng.uniform(0.0, 1.0, CHECK_POINTS),
                          10.0 ** rng.uniform(-16, 0, CHECK_POINTS // 2)])
    scale = min(v_top, v_spike) - v_reset
    if kicks is None:
        kicks = tuple(scale * a for a in (-1.0, -0.1, -0.01, 0.01, 0.1))
    refs = [reference_ptc(quad, s_r, rem, kick) for kick in kicks]
    grid = [cells] if cells is not None else []
    n = FIRST_CELLS
    while cells is None and n <= MAX_CELLS:
        grid.append(n)
        n *= 2
    error = math.inf
    for n in grid:
        tab = _assemble(quad, s_r, s_b, v_b, s_split, n)
        error = 0.0
        for kick, ref in zip(kicks, refs):
            got = remaining_after_input(tab, rem, kick)
            ok = np.isfinite(ref)
            if np.any(np.isfinite(got[ok]) != True):      # noqa: E712
                error = math.inf
                break
            error = max(error, float(np.max(np.abs(got[ok] - ref[ok]), initial=0.0)))
        if error <= tol / 10:
            return LookupTable(tab, s_r, error, n, time.perf_counter() - start, quad)
    raise ValueError(f"tol = {tol:g} cannot be met: the PTC error is {error:.3g} with "
                     f"{grid[-1]} cells per table (give a larger tol, or smaller cells)")
