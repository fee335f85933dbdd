"""What every cached Numba entry point into ``kernels/`` needs: the digest of the kernels.

Numba keys its disk cache on the source file of the cached function only, not on
the files it calls into. An entry point that calls ``kernels/`` code therefore holds
``kernels_digest()`` in its closure (Numba hashes closure values into the key), so
editing a kernel recompiles it instead of serving stale machine code.
"""
import functools
import hashlib
from pathlib import Path

from .kernels import engine


@functools.lru_cache(maxsize=None)
def kernels_digest():
    """SHA-256 of the kernels/ sources."""
    digest = hashlib.sha256()
    for path in sorted(Path(engine.__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()
