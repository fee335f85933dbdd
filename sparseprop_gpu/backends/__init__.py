"""Execution backends: ``cpu`` (numba.njit) now; ``cuda`` follows the same kernels."""
