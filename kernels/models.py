"""Phase transition curves and key arithmetic for the closed-form models.

A neuron's key is what the priority queue orders (smaller spikes sooner):

* ``KEY_PHASE`` (any model): the global shift ``S`` at which the neuron reaches
  threshold, ``key = S + (phi_th - phi)``. The queue's minimum is the next ``S``.
* ``KEY_EXP`` (LIF only): ``z = exp(-psi / omega)`` with ``psi = phi - S`` and
  ``G = exp(S / omega)``. An input of strength ``J`` is the addition
  ``z += (-J / I) * G`` (no exp or log per event) and the neuron spikes when
  ``G = z * I / (I - 1)``. The queue's minimum gives the next ``G``.
* ``KEY_EXP_TIME`` (LIF with per-neuron drive and one tau): ``y = exp(t_next / tau)``,
  the exponential of the neuron's next spike time. The smallest ``y`` is the next
  ``G = exp(t / tau)``; an input is ``y += -J / (I_i - 1) * G`` and a reset
  ``y = G * I_i / (I_i - 1)``: still one addition per input.
* ``KEY_TIME`` (heterogeneous neurons, docs/design.md §2.4): the time (s, from the
  time origin) of the neuron's next spike, ``key = t + (phi_th - phi) * tpp_i``
  with the neuron's own seconds per unit of phase ``tpp_i = tau_i / omega_i``.
  The phase key is the time key of a neuron with ``tpp = 1``: the same formulas
  serve both (a factor 1.0 is exact).

Both keys grow without bound; ``rebase`` subtracts ``S`` (phase) or divides
by ``2**REBASE_BITS`` (exp), exactly and order-preservingly, and moves the
difference into the time origin. ``par`` is a float64 vector indexed by the
``P_*`` constants below, filled by ``sparseprop_gpu.specification.models``; the event loop
reads it once into a tuple ``mp`` (``constants(par)``) and passes that on, since
an array handed to a helper costs a reference-count call per event on the CPU.
"""
import math

from numba.extending import register_jitable

LIF = 0
QIF = 1
TABLE = 2         # tau dV/dt = F(V) + I from tables (``kernels.lookup``): EIF, TableModel

KEY_PHASE = 0
KEY_EXP = 1
KEY_TIME = 2
KEY_EXP_TIME = 3

# per-neuron constants of a heterogeneous network (one row per neuron)
N_OMEGA = 0       # time key: phase velocity
N_KICK = 1        # time key: J / I_i (LIF), J / sqrt(I_i) (QIF)
N_LOOKUP_BASE = 1 # time key, TABLE: where the neuron's table starts in ``lookup`` (its kick is J)
N_TPP = 2         # time key: seconds per unit of phase
N_EXP_KICK = 0    # exp-time key: J / (I_i - 1)
N_EXP_RESET = 1   # exp-time key: I_i / (I_i - 1)
N_NEURON = 3

P_OMEGA = 0       # phase velocity per membrane time constant
P_KICK = 1        # LIF: J / I; QIF: J / sqrt(I); TABLE: J
P_PHI_RESET = 2
P_PHI_TH = 3
P_TAU = 4         # membrane time constant (s)
P_TPP = 5         # seconds per unit of phase, tau / omega
P_EXP_THR = 6     # LIF: I / (I - 1) = exp(1 / omega)
P_REBASE_AT = 7   # rebase when the smallest key exceeds this (inf: never)
P_T_REF = 8       # refractory period (s); 0: none
P_REF = 9         # the refractory period in key units: phase key t_ref / tpp, time key t_ref
                  # (added to the key after reset); exp keys exp(t_ref / tau) (a factor)
N_PAR = 10

REBASE_BITS = 64
REBASE_FACTOR = 2.0 ** -REBASE_BITS
LN2 = 0.6931471805599453


@register_jitable
def constants(par):
    """The model constants as a tuple, indexed like ``par``."""
    return (par[0], par[1], par[2], par[3], par[4], par[5], par[6], par[7], par[8], par[9])


@register_jitable
def ptc(model, phi, omega, kick):
    """Phase transition curve g(phi; J) of ``model`` (phase units).

    ``kick`` is J / I for LIF and J / sqrt(I) for QIF.
    """
    if model == LIF:
        return -omega * math.log(math.exp(-phi / omega) - kick)
    # QIF phases lie in [-pi, pi): a key one rounding below reset (a neuron whose refractory
    # period ends at this input) must not wrap round tan's period to threshold
    return 2.0 * math.atan(math.tan(0.5 * max(phi, -math.pi)) + kick)


@register_jitable
def shift_of(key_kind, key_min, mp):
    """The global shift (``S``, or ``G`` for exp keys) when the minimum key spikes."""
    if key_kind == KEY_EXP:
        return key_min * mp[P_EXP_THR]
    return key_min


@register_jitable
def elapsed(key_kind, shift, mp):
    """Seconds since the current time origin at global shift ``shift``."""
    if key_kind == KEY_EXP or key_kind == KEY_EXP_TIME:
        return mp[P_TAU] * math.log(shift)
    if key_kind == KEY_TIME:
        return shift
    return shift * mp[P_TPP]


@register_jitable
def key_at(key_kind, seconds, mp):
    """The global shift ``seconds`` (s) after the current time origin: ``elapsed``'s inverse."""
    if key_kind == KEY_EXP or key_kind == KEY_EXP_TIME:
        return math.exp(seconds / mp[P_TAU])
    if key_kind == KEY_TIME:
        return seconds
    return seconds / mp[P_TPP]


@register_jitable
def key_after_input(model, key_kind, key, shift, mp, omega, kick, tpp):
    """A target's new key after one input arriving at global shift ``shift``.

    ``omega``, ``kick`` and ``tpp`` are the target's own (time key) or the
    network's with ``tpp = 1`` (phase key); the exp key needs only ``kick`` (J / I, as the
    phase key's: ``P_KICK``, or a connection's own) and the exp-time key the target's
    ``kick``, J / (I_i - 1). ``TABLE`` models use ``engine.table_inputs``.
    """
    if key_kind == KEY_EXP:
        return key - kick * shift
    if key_kind == KEY_EXP_TIME:
        return key - kick * shift
    phi_th = mp[P_PHI_TH]
    phi = ptc(model, phi_th - (key - shift) / tpp, omega, kick)
    return shift + (phi_th - phi) * tpp


@register_jitable
def key_after_reset(key_kind, shift, mp, tpp):
    """The spiking neuron's key after its reset and refractory period (``P_REF``).

    ``tpp``: as in ``key_after_input``; for the exp-time key, I_j / (I_j - 1). The phase
    restarts at phi_reset - t_ref / tpp (below reset): the neuron moves through its
    refractory period at its own velocity. With t_ref = 0 the terms are exact (+ 0, * 1).
    """
    if key_kind == KEY_EXP:
        return shift * mp[P_REF]
    if key_kind == KEY_EXP_TIME:
        return shift * tpp * mp[P_REF]
    return shift + ((mp[P_PHI_TH] - mp[P_PHI_RESET]) * tpp + mp[P_REF])


@register_jitable
def below_reset(key_kind, key, shift, mp, tpp):
    """Whether a neuron's phase is below reset at global shift ``shift``: one comparison.

    ``tpp`` as in ``key_after_reset``. Below reset a neuron is either refractory or was
    taken there by inhibition since; ``engine.ignores_input`` tells them apart.
    """
    if key_kind == KEY_EXP or key_kind == KEY_EXP_TIME:
        return key > shift * tpp
    return key - shift > (mp[P_PHI_TH] - mp[P_PHI_RESET]) * tpp


@register_jitable
def excited_key(model, key_kind, before, after, shift, omega, kick, tpp):
    """An input's new key ``after`` (``key_after_input``'s from the exact key ``before``) where
    inputs may take a neuron past threshold (docs/design.md §2.12: the inputs of one instant
    sum; ``shift``: the instant's).

    Past threshold the exact key is below ``shift`` by the neuron's lead on threshold. The exp
    keys are linear in V and hold it as they are. LIF on the phase and time keys: the curve
    ends at V = I, so past threshold the key continues linearly in V, the tangent of the key at
    threshold, ``shift - tau_k (V - 1) / (I - 1)`` with tau_k = ``tpp * omega`` (tau in key
    units); an input to or from there goes through u = (I - V) / (I - 1). QIF never passes
    threshold; table models saturate apart (``SATURATED``)."""
    if model != LIF or key_kind == KEY_EXP or key_kind == KEY_EXP_TIME:
        return after
    if before >= shift and after >= shift:       # False for a NaN (V + J >= I)
        return after
    span = tpp * omega
    if before >= shift:
        u = math.exp((before - shift) / span)
    else:
        u = 1.0 + (before - shift) / span
    u -= kick * math.exp(1.0 / omega)            # J / (I - 1) = (J / I) exp(1 / omega)
    if u >= 1.0:
        return shift + span * math.log(u)
    return shift - span * (1.0 - u)


SATURATED = -math.inf
"""The exact key of a table model's neuron that an input took to or past V_spike, where its
phase ends: it spikes at that instant whatever else arrives then (docs/design.md §2.12)."""


@register_jitable
def hold_past(before, after, key_min):
    """Where an input took a neuron's exact key from ``before`` to ``after``: ``(the key to
    queue, the neuron's new ``past_key`` or NaN for no change)``.

    Past threshold (``after`` below ``key_min``, the key of the spike or delivery being
    processed) the neuron spikes at this instant: the queue holds ``key_min`` (neurons past
    threshold spike in index order, as at threshold) and ``past_key`` the exact key, which
    the next input of this instant starts from (``min(queued, past_key)`` where the queued key
    is ``key_min``); +inf once it is not past threshold. Scalars only: an array handed to a
    helper costs a reference count per call on the CPU."""
    if after < key_min:
        return key_min, after
    if before < key_min:
        return after, math.inf
    return after, math.nan


@register_jitable
def rebase_step(key_kind, key_min, mp):
    """Time-origin increment (s) and key change of one rebase.

    Returns ``(dt, shift, factor)``: keys become ``(key - shift) * factor``.
    """
    if key_kind == KEY_EXP or key_kind == KEY_EXP_TIME:
        return mp[P_TAU] * (REBASE_BITS * LN2), 0.0, REBASE_FACTOR
    return elapsed(key_kind, key_min, mp), key_min, 1.0
