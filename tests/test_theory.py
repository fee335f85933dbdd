"""Mean-field predictions (sparseprop_gpu.analysis.theory): limits that hold exactly, a value
computed independently, bad input refused."""
import math

import numpy as np
import pytest

from sparseprop_gpu.analysis.theory import lif_rate_diffusion, poisson_moments

TAU = 0.01


def test_poisson_moments_are_the_shot_noise_mean_and_amplitude():
    assert poisson_moments(0.5, 0.1, 800.0, TAU) == pytest.approx((0.5 + 0.1 * 8.0,
                                                                   0.1 * math.sqrt(8.0)))
    assert poisson_moments(1.5, -0.2, 100.0, TAU)[1] == pytest.approx(0.2)


def test_without_noise_the_rate_is_the_deterministic_lif_rate():
    for mu in (1.01, 1.5, 4.0):
        period = TAU * math.log(mu / (mu - 1.0))
        assert lif_rate_diffusion(mu, 0.0, TAU, t_ref=0.002) == 1.0 / (0.002 + period)
        assert lif_rate_diffusion(mu, 1e-6, TAU, t_ref=0.002) == pytest.approx(
            1.0 / (0.002 + period), rel=1e-4)
    assert lif_rate_diffusion(0.99, 0.0, TAU) == 0.0


def test_the_siegert_integral_against_a_plain_quadrature():
    """The integrand e^{u^2}(1 + erf u) summed on a fine grid, without scipy's erfcx."""
    mu, sigma, t_ref = 0.8, 0.2, 0.002
    u = np.linspace((0.0 - mu) / sigma, (1.0 - mu) / sigma, 200_001)
    f = np.exp(u ** 2) * (1.0 + np.array([math.erf(x) for x in u]))
    integral = np.sum((f[1:] + f[:-1]) / 2 * np.diff(u))
    want = 1.0 / (t_ref + TAU * math.sqrt(math.pi) * integral)
    assert lif_rate_diffusion(mu, sigma, TAU, t_ref=t_ref) == pytest.approx(want, rel=1e-8)


def test_noise_raises_the_rate_below_threshold_and_it_grows_with_the_mean():
    rates = [lif_rate_diffusion(mu, 0.1, TAU) for mu in (0.6, 0.8, 1.0, 1.2)]
    assert rates[0] > 0.0 and np.all(np.diff(rates) > 0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(mu=1.0, sigma=-0.1, tau=TAU), r"sigma must be in \[0"),
    (dict(mu=1.0, sigma=0.1, tau=0.0), r"tau \(s\)"),
    (dict(mu=float("nan"), sigma=0.1, tau=TAU), "mu must be finite"),
    (dict(mu=1.0, sigma=0.1, tau=TAU, t_ref=-1.0), r"t_ref \(s\)"),
    (dict(mu=1.0, sigma=0.1, tau=TAU, v_reset=1.0), "v_reset must be below theta"),
])
def test_bad_arguments_are_refused_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lif_rate_diffusion(**kwargs)
