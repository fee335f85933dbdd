"""Neuron models with closed-form phase transition curves: LIF and QIF.

A model knows its membrane time constant ``tau`` (s); a network adds the drive
``I`` and the coupling ``J`` (voltage jump per input, in the model's voltage
units). See DESIGN.md 2.1 for the formulas.
"""
import math

import numpy as np

from . import validate
from .kernels import models as km

SPIKE_KEYS = ("auto", "phase", "exp")


class NeuronModel:
    """Base class: a one-dimensional neuron as a phase oscillator.

    Parameters
    ----------
    tau : float
        Membrane time constant (s), > 0.
    """

    name = ""
    kernel_id = -1
    phase_reset = 0.0
    phase_threshold = 1.0
    exp_key = False

    def __init__(self, tau=0.01):
        self.tau = validate.real("tau", tau, 0.0, math.inf, low_open=True)

    def __repr__(self):
        return f"{type(self).__name__}(tau={self.tau!r})"

    def __eq__(self, other):
        return type(self) is type(other) and self.tau == other.tau

    def __hash__(self):
        return hash((type(self).__name__, self.tau))

    def check_drive(self, drive):
        """Return ``drive`` as a float, or raise if the neuron would never fire."""
        raise NotImplementedError

    def balanced_drive(self, k, j0, target_rate):
        """Drive ``I`` of the balanced-state parametrisation, tau sqrt(K) j0 nu (+1 for LIF)."""
        return self.tau * math.sqrt(k) * j0 * target_rate

    def omega(self, drive):
        """Phase velocity per membrane time constant (phase units; vectorised)."""
        raise NotImplementedError

    def external_to_drive(self, external):
        """Drive I from the external drive I_ext of the balanced parametrisation."""
        return external

    def neuron_params(self, drive, coupling, tau):
        """Per-neuron constants (rows ``kernels.models.N_*``) of a heterogeneous network.

        Parameters
        ----------
        drive, tau : ndarray (n,)
            Each neuron's drive and membrane time constant (s).
        coupling : float
        """
        omega = self.omega(drive)
        table = np.empty((drive.shape[0], km.N_NEURON))
        table[:, km.N_OMEGA] = omega
        table[:, km.N_KICK] = self._kick(drive, coupling)
        table[:, km.N_TPP] = tau / omega
        return table

    def period(self, drive):
        """Free period from reset to threshold without input (s)."""
        return self.tau * (self.phase_threshold - self.phase_reset) / self.omega(drive)

    def kernel_params(self, drive, coupling, key="phase", rebase=True, rebase_at=None):
        """The float64 parameter vector the device code reads (``kernels.models.P_*``).

        ``rebase_at`` overrides the rebasing threshold (keys in seconds for the time key).
        """
        drive = self.check_drive(drive)
        omega = float(self.omega(drive))
        par = np.zeros(km.N_PAR)
        par[km.P_OMEGA] = omega
        par[km.P_KICK] = self._kick(drive, coupling)
        par[km.P_PHI_RESET] = self.phase_reset
        par[km.P_PHI_TH] = self.phase_threshold
        par[km.P_TAU] = self.tau
        par[km.P_TPP] = self.tau / omega
        par[km.P_EXP_THR] = self._exp_threshold(drive)
        span = self.phase_threshold - self.phase_reset
        if not rebase:
            par[km.P_REBASE_AT] = math.inf
        elif rebase_at is not None:
            par[km.P_REBASE_AT] = rebase_at
        elif key == "exp":
            par[km.P_REBASE_AT] = 2.0 ** km.REBASE_BITS
        else:
            par[km.P_REBASE_AT] = 16.0 * span
        return par

    def _exp_threshold(self, drive):
        return math.nan


class LIF(NeuronModel):
    """Leaky integrate-and-fire: tau dV/dt = -V + I, threshold 1, reset 0.

    Phase phi in [0, 1] with V = I (1 - exp(-phi / omega)), omega = 1 / ln(I / (I - 1)).
    Needs a suprathreshold drive, I > 1.
    """

    name = "lif"
    kernel_id = km.LIF
    exp_key = True

    def check_drive(self, drive):
        return validate.real("drive (LIF needs I > 1 to reach threshold)", drive, 1.0, math.inf,
                             low_open=True)

    def balanced_drive(self, k, j0, target_rate):
        return 1.0 + super().balanced_drive(k, j0, target_rate)

    def external_to_drive(self, external):
        return 1.0 + external

    def exp_neuron_params(self, drive, coupling):
        """Per-neuron constants of the exp-time key (rows ``kernels.models.N_EXP_*``)."""
        table = np.zeros((drive.shape[0], km.N_NEURON))
        table[:, km.N_EXP_KICK] = coupling / (drive - 1.0)
        table[:, km.N_EXP_RESET] = drive / (drive - 1.0)
        return table

    def omega(self, drive):
        return 1.0 / np.log(drive / (drive - 1.0))

    def ptc(self, phi, drive, coupling):
        """Phase after an input of strength ``coupling`` at phase ``phi`` (vectorised)."""
        w = self.omega(drive)
        return -w * np.log(np.exp(-np.asarray(phi, dtype=float) / w) - coupling / drive)

    def phase_to_voltage(self, phi, drive):
        """Membrane potential at phase ``phi``."""
        return drive * (1.0 - np.exp(-np.asarray(phi, dtype=float) / self.omega(drive)))

    def voltage_to_phase(self, v, drive):
        """Phase of membrane potential ``v`` (v < I)."""
        return -self.omega(drive) * np.log(1.0 - np.asarray(v, dtype=float) / drive)

    def _kick(self, drive, coupling):
        return coupling / drive

    def _exp_threshold(self, drive):
        return drive / (drive - 1.0)


class QIF(NeuronModel):
    """Quadratic integrate-and-fire (theta neuron): tau dV/dt = V^2 + I.

    Phase phi in [-pi, pi] with V = sqrt(I) tan(phi / 2), omega = 2 sqrt(I);
    spike at V = +inf, reset to -inf. Needs I > 0.
    """

    name = "qif"
    kernel_id = km.QIF
    phase_reset = -math.pi
    phase_threshold = math.pi

    def check_drive(self, drive):
        return validate.real("drive (QIF needs I > 0 to fire)", drive, 0.0, math.inf,
                             low_open=True)

    def omega(self, drive):
        return 2.0 * np.sqrt(drive)

    def ptc(self, phi, drive, coupling):
        """Phase after an input of strength ``coupling`` at phase ``phi`` (vectorised)."""
        phi = np.asarray(phi, dtype=float)
        return 2.0 * np.arctan(np.tan(0.5 * phi) + coupling / np.sqrt(drive))

    def phase_to_voltage(self, phi, drive):
        """Membrane potential at phase ``phi``."""
        return np.sqrt(drive) * np.tan(0.5 * np.asarray(phi, dtype=float))

    def voltage_to_phase(self, v, drive):
        """Phase of membrane potential ``v``."""
        return 2.0 * np.arctan(np.asarray(v, dtype=float) / np.sqrt(drive))

    def _kick(self, drive, coupling):
        return coupling / np.sqrt(drive)


MODELS = {"lif": LIF, "qif": QIF}
