"""Time to spike and its inverse from tables, for models without a closed form
(docs/design.md §2.3).

A model tau dV/dt = F(V) + I is described in dimensionless time s = T / tau by
``s(V) = integral_V^{V_spike} du / (F(u) + I)`` (time to spike from V) and its
inverse ``V(s)``. Phase: ``phi = 1 - s(V) / s_r`` with ``s_r = s(V_reset)``, so the
remaining phase of a neuron is ``rem = s / s_r`` and an input J maps it to
``s(V(s_r rem) + J) / s_r``.

One flat float64 array per table, built by ``sparseprop_gpu.specification.lookup``: a header (the
``T_*`` indices below) and then the cells' polynomial coefficients, ``NC`` per cell,
lowest order first, in the cell's local variable x in [-1, 1]; offsets are from the
table's start. A network with a few distinct drives has one table per drive, one after
another in ``lookup``: every function takes the ``base`` (index in ``lookup``) of the table it reads.

* forward ``s(V)``: uniform cells in V on ``[v_lo, v_b]``; above ``v_b`` (where the
  remaining time is at most ``s_b``, below the table's error) the straight line
  from ``(v_b, s_b)`` to ``(v_spike, 0)``; at or past ``v_spike``, 0 (spike at once);
  below ``v_lo`` the exact leak tail ``s_lo + ln((I - V) / (I - v_lo))`` when the
  model is ``tau dV/dt = -V + I`` there (``T_TAIL = 1``), else NaN: the engine stops
  with ``OUT_OF_TABLE`` instead of clamping.
* inverse ``V(s)``: the same straight line for ``s <= s_b``; uniform cells in
  ``u = ln s`` on ``[ln s_b, ln s_split]`` (near the spike V is smooth in ln s, not
  in s); uniform cells in s on ``[s_split, s_lo]``; above ``s_lo`` the leak tail's
  inverse.
* input map ``R(rem) = s(V(s_r rem) + J) / s_r`` for the one input strength ``J`` of a
  network (``T_KICK``; NaN when absent): uniform cells in rem on ``[r_lo, r_hi]``, where
  the map is smooth and holds most neurons. An input of exactly that J there costs one
  polynomial instead of an inverse and a forward lookup; any other input, or a neuron
  outside ``[r_lo, r_hi]``, takes the two lookups.
"""
import math

import numpy as np
from numba.extending import register_jitable

NC = 10           # coefficients per cell (degree 9; ``cell_poly`` is written for 10)

T_V_LO = 0        # lowest tabulated voltage
T_V_B = 1         # highest tabulated voltage (forward table)
T_INV_HV = 2      # forward cells per volt
T_NV = 3          # forward cells
T_S_LO = 4        # s(v_lo)
T_S_B = 5         # s(v_b)
T_V_SPIKE = 6
T_LIN_FWD = 7     # s_b / (v_spike - v_b), or 0
T_LIN_INV = 8     # (v_spike - v_b) / s_b, or 0
T_TAIL = 9        # 1: exact leak tail below v_lo; 0: none (inputs below v_lo are errors)
T_DRIVE = 10      # I
T_U_LO = 11       # ln s_b
T_INV_HU = 12     # inverse cells per unit of ln s
T_NU = 13
T_S_SPLIT = 14
T_INV_HS = 15     # inverse cells per unit of s
T_NS = 16
T_S_R = 17        # s(v_reset): the free period over tau
T_INV_S_R = 18
T_OFF_V = 19      # offsets of the three coefficient blocks
T_OFF_U = 20
T_OFF_S = 21
T_KICK = 22       # the J of the input map, or NaN
T_R_LO = 23       # the input map's range of remaining phase
T_R_HI = 24
T_INV_HR = 25     # input-map cells per unit of remaining phase
T_NR = 26
T_OFF_R = 27
HEADER = 32


@register_jitable
def cell_poly(lookup, off, cells, pos):
    """Polynomial of the cell holding ``pos`` (in cell units, clamped to the table; the
    callers keep ``pos`` within one cell of it).

    Estrin's scheme: four dependent steps instead of Horner's nine, since the
    lookups of one spike's targets are independent and limited by latency.
    """
    cell = min(max(np.int64(pos), 0), np.int64(cells) - 1)  # pos > -1: truncation is floor
    x = 2.0 * (pos - cell) - 1.0
    c = np.uint64(np.int64(off) + cell * NC)
    x2 = x * x
    x4 = x2 * x2
    low = (lookup[c] + lookup[c + np.uint64(1)] * x) + (lookup[c + np.uint64(2)]
                                                  + lookup[c + np.uint64(3)] * x) * x2
    high = (lookup[c + np.uint64(4)] + lookup[c + np.uint64(5)] * x) + (lookup[c + np.uint64(6)]
                                                                  + lookup[c + np.uint64(7)] * x) * x2
    return low + (high + (lookup[c + np.uint64(8)] + lookup[c + np.uint64(9)] * x) * x4) * x4


@register_jitable
def time_to_spike(lookup, base, v):
    """s(V): time to spike from V over tau; NaN below a table without a tail."""
    if v >= lookup[base + T_V_B]:
        return max(0.0, (lookup[base + T_V_SPIKE] - v) * lookup[base + T_LIN_FWD])
    if v < lookup[base + T_V_LO]:
        if lookup[base + T_TAIL] > 0.0:
            drive = lookup[base + T_DRIVE]
            v_lo = lookup[base + T_V_LO]      # ln((I - V) / (I - v_lo)), to full precision
            return lookup[base + T_S_LO] + math.log1p((v_lo - v) / (drive - v_lo))
        return math.nan
    return cell_poly(lookup, base + lookup[base + T_OFF_V], lookup[base + T_NV],
                     (v - lookup[base + T_V_LO]) * lookup[base + T_INV_HV])


@register_jitable
def voltage_at(lookup, base, s):
    """V(s), the inverse of ``time_to_spike`` (s >= 0)."""
    if s <= lookup[base + T_S_B]:
        return lookup[base + T_V_SPIKE] - s * lookup[base + T_LIN_INV]
    if s < lookup[base + T_S_SPLIT]:
        return cell_poly(lookup, base + lookup[base + T_OFF_U], lookup[base + T_NU],
                         (math.log(s) - lookup[base + T_U_LO]) * lookup[base + T_INV_HU])
    if s <= lookup[base + T_S_LO]:
        return cell_poly(lookup, base + lookup[base + T_OFF_S], lookup[base + T_NS],
                         (s - lookup[base + T_S_SPLIT]) * lookup[base + T_INV_HS])
    if lookup[base + T_TAIL] > 0.0:
        drive = lookup[base + T_DRIVE]
        v_lo = lookup[base + T_V_LO]          # v_lo - (I - v_lo) (e^(s - s_lo) - 1)
        return v_lo - (drive - v_lo) * math.expm1(s - lookup[base + T_S_LO])
    return math.nan


@register_jitable
def remaining_by_lookups(lookup, base, rem, kick):
    """Remaining phase after a voltage jump ``kick`` at remaining phase ``rem``: V, then s."""
    v = voltage_at(lookup, base, rem * lookup[base + T_S_R]) + kick
    return time_to_spike(lookup, base, v) * lookup[base + T_INV_S_R]


@register_jitable
def input_map(lookup, base, kick):
    """The input map of ``kick`` as ``(r_lo, r_hi, cells per unit, cells, offset in lookup)``.

    An empty range when the table has no map for ``kick``.
    """
    if kick == lookup[base + T_KICK]:
        return (lookup[base + T_R_LO], lookup[base + T_R_HI], lookup[base + T_INV_HR], lookup[base + T_NR],
                base + lookup[base + T_OFF_R])
    return 1.0, 0.0, 0.0, 0.0, 0.0


@register_jitable
def mapped_remaining(lookup, imap, rem):
    """The input map ``imap`` (from ``input_map``) at ``rem``; -1 outside its range."""
    r_lo, r_hi, inv_h, cells, off = imap
    if rem >= r_lo and rem <= r_hi:
        return cell_poly(lookup, off, cells, (rem - r_lo) * inv_h)
    return -1.0


@register_jitable
def remaining_after_input(lookup, base, rem, kick):
    """Remaining phase (1 - phi) after a voltage jump ``kick`` at remaining phase ``rem``."""
    out = mapped_remaining(lookup, input_map(lookup, base, kick), rem)
    return out if out >= 0.0 else remaining_by_lookups(lookup, base, rem, kick)
