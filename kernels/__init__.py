"""Device code written once, compiled by ``numba.njit`` and ``numba.cuda.jit``.

Every function here is a ``numba.extending.register_jitable`` function over flat
arrays and scalars: no Python objects, no allocation, no recursion, no
exceptions. The host side (``sparseprop_gpu``) validates inputs and lays out the
arrays; these modules only compute. Installed as ``sparseprop_gpu.kernels``.
"""
