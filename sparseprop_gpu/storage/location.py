"""Where a sweep store is: a local path or a URL."""
import os
from pathlib import Path


def is_url(path):
    """Whether ``path`` is a URL (``scheme://...``) rather than a local path."""
    return "://" in str(path)


def normalise(path):
    """An absolute local path (workers may run elsewhere in the tree) or a URL, as a str."""
    return str(path) if is_url(path) else os.path.abspath(os.fspath(path))


def exists(path):
    """Whether something is at ``path`` (a local check needs no Zarr)."""
    path = normalise(path)
    if is_url(path):
        import zarr
        try:
            zarr.open_group(path, mode="r")
            return True
        except Exception:
            return False
    return Path(path).exists()
