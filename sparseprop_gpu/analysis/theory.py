"""Mean-field predictions to hold a simulation against: the firing rate of a leaky
integrate-and-fire neuron driven by white noise (the diffusion approximation of Poisson input)
and the moments of that input (docs/design.md §2.15).

Convention (Brunel 2000): ``tau dV/dt = -V + mu + sigma sqrt(tau) xi(t)``, threshold
``theta``, reset ``v_reset``, refractory period ``t_ref``; voltages in the model's units
(threshold 1, reset 0 for ``sp.LIF``). Needs SciPy (the ``theory`` extra).
"""
import math

from .. import validate


def poisson_moments(drive, weight, rate, tau):
    """Mean and noise amplitude of a drive plus Poisson input in the diffusion approximation.

    Parameters
    ----------
    drive : float
        Constant drive I (voltage units).
    weight : float
        Voltage jump J of one input spike.
    rate : float
        Total input rate R onto one neuron (Hz; ``C_ext * nu_ext``).
    tau : float
        Membrane time constant (s).

    Returns
    -------
    (mu, sigma) : (float, float)
        ``mu = I + J R tau`` and ``sigma = |J| sqrt(R tau)`` (voltage units).
    """
    drive = validate.real("drive", drive)
    weight = validate.real("weight", weight)
    rate = validate.real("rate (Hz)", rate, 0.0)
    tau = validate.real("tau (s)", tau, 0.0, low_open=True)
    return drive + weight * rate * tau, abs(weight) * math.sqrt(rate * tau)


def lif_rate_diffusion(mu, sigma, tau, *, theta=1.0, v_reset=0.0, t_ref=0.0):
    """Stationary firing rate (Hz) of a LIF neuron under white noise (Siegert's formula).

    ``1 / rate = t_ref + tau sqrt(pi) * integral from (v_reset - mu) / sigma to (theta - mu) /
    sigma of exp(u^2) (1 + erf(u)) du``; for ``sigma = 0`` the deterministic rate
    ``1 / (t_ref + tau ln((mu - v_reset) / (mu - theta)))`` above threshold and 0 below.

    Parameters
    ----------
    mu, sigma : float
        Mean input and noise amplitude (voltage units; ``sigma >= 0``), e.g. from
        ``poisson_moments``.
    tau : float
        Membrane time constant (s).
    theta, v_reset : float
        Threshold and reset (``v_reset < theta``).
    t_ref : float
        Refractory period (s, >= 0).
    """
    mu = validate.real("mu", mu)
    sigma = validate.real("sigma", sigma, 0.0)
    tau = validate.real("tau (s)", tau, 0.0, low_open=True)
    t_ref = validate.real("t_ref (s)", t_ref, 0.0)
    theta = validate.real("theta", theta)
    v_reset = validate.real("v_reset", v_reset)
    if not v_reset < theta:
        raise ValueError(f"v_reset must be below theta; got v_reset = {v_reset!r}, "
                         f"theta = {theta!r}")
    if sigma == 0.0:
        if mu <= theta:
            return 0.0
        return 1.0 / (t_ref + tau * math.log((mu - v_reset) / (mu - theta)))
    from scipy.integrate import quad
    from scipy.special import erfcx
    lower, upper = (v_reset - mu) / sigma, (theta - mu) / sigma
    integral, _ = quad(lambda u: erfcx(-u), lower, upper, limit=200)   # e^u² (1 + erf u)
    return 1.0 / (t_ref + tau * math.sqrt(math.pi) * integral)
