"""Repairing a damaged store for ``--resume`` (docs/design.md §4.5): missing array metadata
is written again, and the batches whose objects are damaged are marked to run again."""
from .finishing import expected_metadata
from .integrity import MANIFEST, message
from .metadata import metadata
from .objects import delete, put, store_at
from .writing import uncommit


def repair(path, sweep, problems):
    """Prepare the repair of the ``problems`` (``integrity.verify``) of the store at ``path``.

    Writes missing array metadata again. In an unfinished store, clears the damaged batches'
    markers, so that they run again as any missing batch; in a finished one, deletes the
    damaged objects (a batch written again into a final chunk it shares then reads no damaged
    bytes): the batches are then run again, one after the other, by the client, each writing
    its data into place, and the same bytes as before are checked against the store's
    manifest. Killed at any point, the next ``--resume`` finds what is left and goes on.

    Returns
    -------
    list of int
        The batches to run again.

    Raises
    ------
    ValueError
        If the finished store's manifest itself is lost (nothing to check the data against).
    """
    store, finished = store_at(path), bool(metadata(path).get("finished"))
    batches = set()
    for problem in problems:
        if problem.key in (None, f"{problem.array}/zarr.json") and "/" not in problem.array:
            put(store, f"{problem.array}/zarr.json",
                expected_metadata(sweep, problem.array, finished))
            continue
        if finished and problem.key == MANIFEST:
            raise ValueError(message(path, [problem], sweep, "its data cannot be checked "
                                     "without it: run the sweep again with --overwrite"))
        if finished:
            delete(store, problem.key)
        batches.update(problem.batches(sweep.batch_size))
    if not finished:
        uncommit(path, sorted(batches))
    return sorted(batches)
