"""Where a sweep store is: a local path or a URL."""
import os
from pathlib import Path


def is_url(path):
    """Whether ``path`` is a URL (``scheme://...``) rather than a local path."""
    return "://" in str(path)


def normalise(path):
    """An absolute local path (workers may run elsewhere in the tree) or a URL, as a str."""
    return str(path) if is_url(path) else os.path.abspath(os.fspath(path))


def check_url(path, name):
    """``path``, after checking that a URL's scheme can be read and written here: ValueError
    naming ``name`` and the package to install (fsspec's own message names it)."""
    if is_url(path):
        try:
            import fsspec
            fsspec.get_filesystem_class(str(path).split("://", 1)[0])
        except ImportError as exc:
            raise ValueError(f"{name}: {path} needs a package that is not installed: {exc} "
                             "(pip install it, or use a local path)") from None
        except ValueError as exc:
            raise ValueError(f"{name}: {path}: {exc}") from None
    return path


def exists(path):
    """Whether something is at ``path`` (a local check needs no Zarr; a folder of empty folders,
    as a creation killed at its start leaves, holds nothing)."""
    path = normalise(path)
    if is_url(path):
        import zarr
        try:
            zarr.open_group(path, mode="r")
            return True
        except Exception:
            return False
    path = Path(path)
    if not path.is_dir():
        return path.exists()
    return any(files for _, _, files in os.walk(path))    # an empty folder holds nothing
