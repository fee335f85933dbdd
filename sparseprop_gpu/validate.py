"""Checks that turn bad input into a ValueError naming the parameter and its range."""
import math
import numbers

import numpy as np


def real(name, value, low=-math.inf, high=math.inf, low_open=False, high_open=False):
    """Return ``value`` as a float after checking it is finite and in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    allowed = f"{lo}{low:g}, {high:g}{hi}"
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, in {allowed}; got {value!r}")
    if value < low or value > high or (low_open and value == low) or (high_open and value == high):
        raise ValueError(f"{name} must be in {allowed}; got {value!r}")
    return value


def integer(name, value, low=None, high=None):
    """Return ``value`` as an int after checking ``low <= value <= high`` (None: no bound)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        allowed = "" if low is None and high is None else f" in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer{allowed}, got {value!r}")
    if low is None and high is None:
        return int(value)
    value = int(value)
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}]; got {value}")
    return value


def choice(name, value, allowed):
    """Return ``value`` after checking it is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def finite_array(name, values, shape, dtype=np.float64):
    """Return ``values`` as a contiguous array of ``shape`` with finite entries.

    Complex, boolean, text or ragged input is refused rather than cast.
    """
    try:
        given = np.asarray(values)
    except ValueError:
        raise ValueError(f"{name} must be an array of shape {shape}; got a ragged sequence "
                         "(rows of different lengths)") from None
    if given.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers (shape {shape}); got dtype "
                         f"{given.dtype}" + (" (complex values are not cast)"
                                             if given.dtype.kind == "c" else ""))
    arr = np.ascontiguousarray(given, dtype=dtype)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite everywhere; got NaN or infinite values")
    return arr
