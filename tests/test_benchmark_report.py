"""benchmarks/report.py: parse_scaling reads engine_scaling.py's table and README's Markdown one."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from report import parse_scaling  # noqa: E402


def test_parse_scaling():
    text = """\
        N  connectivity  ns/spike  ns/event  B/neuron  conv ns/spike  speed-up
     1000       stored*       333      3.33     486.6           2166         7
     1000   on_the_fly        599      5.99      87.9           2166         4
  1000000       stored       1234     12.34     436.0    2200000 (x)  1750 (x)
"""
    d = parse_scaling(text)
    np.testing.assert_array_equal(d["n"], [1000, 1000, 1e6])
    np.testing.assert_array_equal(d["connectivity"], ["stored", "on_the_fly", "stored"])
    np.testing.assert_array_equal(d["auto"], [True, False, False])
    np.testing.assert_array_equal(d["extrapolated"], [False, False, True])
    np.testing.assert_allclose(d["ns_per_spike"], [333, 599, 1234])
    md = "| 10⁶ | on the fly (auto) | 1 007 | 10.07 | 36.4 | ≈ 2.2 × 10⁶ (extrapolated) | x |"
    d = parse_scaling(md)
    assert d["n"][0] == 1e6 and d["ns_per_spike"][0] == 1007 and d["auto"][0]
    assert d["conventional_ns_per_spike"][0] == pytest.approx(2.2e6) and d["extrapolated"][0]
    with pytest.raises(ValueError):
        parse_scaling("nothing here")
