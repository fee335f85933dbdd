"""Running a sweep: batches to Dask workers (or in this process), progress, a summary.

With no scheduler, an embedded ``distributed.LocalCluster`` of process workers, one per core
(one per GPU with the cuda backend), each running numba on ``cores // workers`` threads.
With ``scheduler="tcp://host:8786"`` or ``client=``, any Dask cluster: dask-jobqueue's
SLURMCluster / PBSCluster, dask-cuda's LocalCUDACluster (one worker per GPU), ... Without
Dask (the ``[dist]`` extra), or with ``in_process=True``, the batches run one after the other
here, with the same result. Every batch is one task; its worker writes it into the store.
"""
import logging
import os
import time
import uuid

import numpy as np

from .storage import finishing, integrity, location, writing
from .storage.lock import StoreLock
from .storage.metadata import done_batches, metadata
from .storage.repair import repair
from . import config, validate
from .text import labelled
from .specification.sweep import load


class SweepError(RuntimeError):
    """Some batches failed; the others are written and committed."""

    def __init__(self, failures, report):
        self.failures = failures
        self.report = report
        lines = [f"{len(failures)} of {report.batches_run} batches failed "
                 "(the others are complete; fix the cause and run again with --resume):"]
        lines += [f"  {text}" for _, text in sorted(failures.items())]
        super().__init__("\n".join(lines))


class SweepReport:
    """What a sweep run did."""

    def __init__(self, path, sweep, todo, runner, started=None):
        self.path = path
        self.started = time.perf_counter() if started is None else started
        self.instances = sweep.size
        self.batches = sweep.n_batches
        self.batches_skipped = sweep.n_batches - len(todo)
        self.batches_run = len(todo)
        self.batches_done = 0
        self.instances_run = 0
        self.spikes = 0
        self.failures = {}
        self.backends = set()
        self.runner = runner
        self.seconds = 0.0
        self.notes = []

    @property
    def instances_per_s(self):
        return self.instances_run / self.seconds if self.seconds > 0 else float("nan")

    def __str__(self):
        notes = "".join(f"\nnote: {note}" for note in self.notes)
        if self.batches_run == 0:
            return (f"{self.path}: all {self.batches} batches ({self.instances} instances) are "
                    f"already complete; nothing to do{notes}")
        return labelled([
            ("store", self.path),
            ("instances", f"{self.instances_run} run, {self.instances} in the sweep"),
            ("batches", f"{self.batches_done} done, {len(self.failures)} failed, "
                        f"{self.batches_skipped} already complete (of {self.batches})"),
            ("ran on", f"{self.runner}, backend {', '.join(sorted(self.backends)) or '-'}"),
            ("wall time (s)", f"{self.seconds:.3g} ({self.instances_per_s:.3g} instances/s)"),
            ("spikes", self.spikes)]) + notes

    def __repr__(self):
        return (f"SweepReport({self.path!r}, run={self.batches_run}, done={self.batches_done}, "
                f"failed={len(self.failures)}, skipped={self.batches_skipped})")


def run_batch(path, sweep, b, numba_threads=None, token=None):
    """Run batch ``b`` of ``sweep`` and write it into the store at ``path`` (a worker task),
    if the store's run token is still ``token`` (``writing.write_batch``).

    ``numba_threads`` is given on the workers of the embedded cluster only. Returns
    (b, instances, spikes, backend, seconds)."""
    started = time.perf_counter()
    if numba_threads:
        import numba
        numba.set_num_threads(min(numba_threads, numba.config.NUMBA_NUM_THREADS))
        _exit_quickly()
    from .runs.ensemble import Ensemble, record_ensemble
    lo, hi = sweep.batch_bounds(b)
    result = record_ensemble(Ensemble.from_sweep(sweep, lo, hi), **sweep.run_kwargs())
    writing.write_batch(path, sweep, b, result, token)
    return (b, hi - lo, int(result.counts.sum()), result.meta["backend"],
            time.perf_counter() - started)


_EXIT = []


def _exit_quickly():
    """On a worker process of the embedded cluster (ours, which holds nothing but finished
    batches when it stops): freeze the garbage collector at exit. The last collections of
    the interpreter's finalisation, over Numba's and LLVM's objects, otherwise take 0.2-0.4 s,
    which the client waits for when it closes the cluster. Exit handlers still run."""
    if not _EXIT:
        import atexit
        import gc
        atexit.register(gc.freeze)
        _EXIT.append(True)


def estimated_cost(sweep):
    """A rough cost of each batch (spikes times synaptic events), so that the dearest run
    first and the last workers do not wait for one long batch. Order only: no value depends
    on it."""
    pars = sweep.parameters()
    rate = pars["target_rate"] if "target_rate" in pars else np.ones(sweep.size)
    each = pars["n"] * rate * pars["k"] * np.log2(pars["n"])
    return np.add.reduceat(each, np.arange(0, sweep.size, sweep.batch_size))


def _cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()



def default_workers(sweep):
    """Workers of the embedded cluster: one per GPU with the cuda backend, else one per core,
    but no more than one per ``config.BATCHES_PER_WORKER`` batches: with fewer batches per worker, the
    last batches leave cores idle (each worker then runs numba on ``cores // workers``
    threads, so all cores still work on every batch)."""
    if sweep.spec["run"]["backend"] != "cpu":
        from .runs.execute import resolve_backend
        try:
            if resolve_backend(sweep.spec["run"]["backend"]) == "cuda":
                from numba import cuda
                return max(1, len(cuda.gpus))
        except Exception:
            pass
    return max(1, min(_cores(), sweep.n_batches // config.BATCHES_PER_WORKER))


def have_dask():
    try:
        import distributed  # noqa: F401
        return True
    except ImportError:
        return False


def run_sweep(spec, out, *, scheduler=None, client=None, workers=None, in_process=None,
              resume=False, overwrite=False, progress=True):
    """Run a sweep into the Zarr store ``out``.

    Parameters
    ----------
    spec : Sweep, dict or path of a TOML file
    out : str or path
        The store (a local path or an fsspec URL such as s3://...).
    scheduler : str, optional
        Address of a running Dask scheduler ("tcp://host:8786"); refused if it does not
        answer within ``config.SCHEDULER_TIMEOUT_S``.
    client : distributed.Client, optional
        An existing client (dask-jobqueue, dask-cuda, ...).
    workers : int, optional
        Process workers of the embedded LocalCluster (default: one per core, or per GPU).
    in_process : bool, optional
        Run the batches here, one after the other (default: only when Dask is not installed).
    resume : bool
        Run the missing batches of an unfinished store of this same sweep, after checking every
        committed batch's checksums: damaged batches are run again (docs/design.md §4.5).
    overwrite : bool
        Delete what ``out`` holds and start again (not with ``resume``).
    progress : bool
        Show a progress bar (batches, instances/s, ETA).

    Returns
    -------
    SweepReport
        Raises SweepError, after all other batches finished, if some batches failed; each
        failure names the batch's instances and parameters. ValueError if another live sweep
        holds the store's lock (``storage.lock``), or if the store is damaged and ``resume``
        is not given. SweepInterrupted (a KeyboardInterrupt) on Ctrl-C: the lock released,
        the committed batches kept, the store resumable.
    """
    began = time.perf_counter()
    sweep = load(spec)
    path = location.check_url(location.normalise(out), "out")
    in_process = _check_where(sweep, scheduler, client, workers, in_process, resume, overwrite)
    with StoreLock(path) as lock:
        own = _connect(scheduler) if scheduler is not None else None
        embedded = None
        if not in_process and scheduler is None and client is None:
            embedded = _Embedded(sweep, workers)
            if not location.exists(path):  # a new store: the cluster starts while it is created
                embedded.start()
        try:
            report = _run(path, sweep, lock, resume, overwrite, in_process, own or client,
                          embedded, progress, began)
        except KeyboardInterrupt:
            raise SweepInterrupted(path) from None
        finally:
            for each in (embedded, own):
                if each is not None:
                    each.close()
            if location.exists(path):
                writing.unclaim(path, lock.token)   # a batch still running commits nothing
    if report.failures:
        raise SweepError(report.failures, report)
    return report


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C (SIGINT): what it committed is kept, its lock released."""

    def __init__(self, path):
        try:
            done = done_batches(path)
            state = f"{int(done.sum())} of {done.size} batches of {path} are committed"
        except Exception:                     # interrupted before the store was created
            state = f"{path} holds no batch yet"
        super().__init__(f"interrupted: {state}; continue with "
                         f"`sparseprop sweep SPEC --out {path} --resume`")


def _run(path, sweep, lock, resume, overwrite, in_process, client, embedded, progress, began):
    """Run the sweep into ``path``, whose lock is held; returns the SweepReport."""
    todo, repairs, notes = _prepare(path, sweep, lock, resume, overwrite)
    if repairs:                 # a finished store's damaged batches: here, one at a time
        report = SweepReport(path, sweep, repairs, "this process", began)
        _run_here(path, sweep, repairs, report, progress, lock.token)
    elif todo == []:           # complete: at most the rewriting of a killed finish() is left
        report = SweepReport(path, sweep, todo, "nothing", began)
    elif in_process:
        todo = writing.create(path, sweep, lock.token) if todo is None else todo
        report = SweepReport(path, sweep, todo, "this process", began)
        _run_here(path, sweep, todo, report, progress, lock.token)
    else:
        report = _run_dask(path, sweep, todo, progress, client, embedded, began, lock.token)
    report.notes = notes
    if report.failures:
        if report.backends:
            writing.record_backends(path, report.backends)
        return report
    lock.check()
    if repairs:
        problems = integrity.verify(path, full=True)
        if problems:
            raise ValueError(integrity.message(path, problems, sweep, "running its batches "
                                               "again did not give the bytes it held (another "
                                               "version or machine?): run it again with "
                                               "--overwrite"))
    finishing.finish(path, report.backends)
    return report


def _prepare(path, sweep, lock, resume, overwrite):
    """What to run: (batches to run, None to create the store; batches of a finished store
    to repair here; notes for the report). Checks the store (its checksums too with
    ``resume``) and claims it for this run's token."""
    notes = [lock.note] if lock.note else []
    todo = writing.plan(path, sweep, resume=resume, overwrite=overwrite)
    if todo is None:
        return None, [], notes
    problems = integrity.verify(path, full=resume)
    if problems and not resume:
        raise ValueError(integrity.message(path, problems, sweep, "repair it with --resume"))
    repairs = repair(path, sweep, problems) if problems else []
    if problems:
        notes.append(f"repaired {len(problems)} damaged objects: batches "
                     f"{', '.join(map(str, repairs)) or 'none'} run again")
    finished = metadata(path).get("finished")
    if repairs or (todo and not finished):
        writing.claim(path, lock.token)
    if finished:
        return [], repairs, notes
    return sorted(set(todo) | set(repairs)), [], notes


def _connect(scheduler):
    """A client of the scheduler at ``scheduler``; ValueError if it does not answer."""
    from distributed import Client
    try:
        return Client(scheduler, timeout=config.SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(f"scheduler: no Dask scheduler answers at {scheduler} within "
                         f"{config.SCHEDULER_TIMEOUT_S:g} s ({exc}); start it, or check the "
                         "address (tcp://host:8786)") from None


def _check_where(sweep, scheduler, client, workers, in_process, resume, overwrite):
    """Check where the sweep may run, and the options together; returns ``in_process``
    resolved."""
    if workers is not None:
        validate.integer("workers", workers, 1, 1 << 16)
    if sum(x is not None for x in (scheduler, client)) + bool(in_process) > 1:
        raise ValueError("give at most one of scheduler, client and in_process")
    if workers is not None and (scheduler is not None or client is not None or in_process):
        given = "in_process (--in-process)" if in_process else \
            "scheduler (--scheduler)" if scheduler is not None else "client"
        raise ValueError(f"workers (--workers) sets the size of the embedded cluster and "
                         f"cannot be given with {given}: give one of them")
    if resume and overwrite:
        raise ValueError("resume (--resume) and overwrite (--overwrite) cannot be given "
                         "together: --resume continues the store at out, --overwrite deletes "
                         "it and starts again")
    if scheduler is None and client is None:      # here: the backend must be usable here
        from .runs.execute import resolve_backend
        try:
            resolve_backend(sweep.spec["run"]["backend"])
        except RuntimeError as exc:
            raise ValueError(f"run.backend: {exc}") from None
    if in_process is None:
        in_process = scheduler is None and client is None and not have_dask()
    if not in_process and not have_dask():
        raise ValueError("scheduler/client need Dask: pip install 'sparseprop-gpu[dist]'")
    return in_process


def _bar(total, progress, sweep):
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="batch", disable=not progress, dynamic_ncols=True,
                desc=f"sweep {sweep.size} instances", smoothing=0.1)


def _done(report, bar, outcome):
    """Count a finished batch (``run_batch``'s ``outcome``) and show the rate so far."""
    _, count, spikes, backend, _ = outcome
    report.batches_done += 1
    report.instances_run += count
    report.spikes += spikes
    report.backends.add(backend)
    bar.update(1)
    elapsed = time.perf_counter() - report.started
    bar.set_postfix_str(f"{report.instances_run / max(elapsed, 1e-9):.3g} instances/s")


def _failed(report, sweep, b, exc):
    report.failures[b] = f"{sweep.describe_batch(b)}: {type(exc).__name__}: {exc}"


def _run_here(path, sweep, todo, report, progress, token):
    with _bar(len(todo), progress, sweep) as bar:
        for b in todo:
            try:
                outcome = run_batch(path, sweep, b, token=token)
            except Exception as exc:   # reported with the batch; the others go on
                _failed(report, sweep, b, exc)
                bar.update(1)
                continue
            _done(report, bar, outcome)
    report.seconds = time.perf_counter() - report.started


class _Embedded:
    """The embedded LocalCluster: ``n`` process workers of one Dask thread each, started in a
    thread (``start``) so that the store is created meanwhile."""

    def __init__(self, sweep, workers):
        self.n = workers or default_workers(sweep)
        self.threads = max(1, _cores() // self.n)
        self.runner = f"LocalCluster({self.n} process workers x {self.threads} numba threads)"
        self._pool = self._future = None

    def start(self):
        from concurrent.futures import ThreadPoolExecutor
        if self._future is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="sparseprop-cluster")
            self._future = self._pool.submit(self._start)

    def _start(self):
        import dask
        from distributed import Client, LocalCluster
        # one task per worker at a time: the dearest batch left goes to the next free worker
        with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
            cluster = LocalCluster(n_workers=self.n, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
        try:
            return cluster, Client(cluster)
        except BaseException:
            cluster.close()
            raise

    def client(self):
        self.start()
        return self._future.result()[1]

    def close(self):
        if self._future is None:
            return
        try:
            cluster, client = self._future.result()
        except Exception:        # it did not start: the error was (or will be) raised
            return
        finally:
            self._pool.shutdown()
            self._future = None
        client.close()
        cluster.close()


def _run_dask(path, sweep, todo, progress, client, embedded, started, token):
    """Run the batches ``todo`` on Dask (creating the store first where ``todo`` is None)."""
    from distributed import as_completed
    threads = None
    if embedded is not None:
        embedded.start()               # if not yet: the cluster starts while ...
        if todo is None:
            todo = writing.create(path, sweep, token)      # ... the store is created
        client, threads, runner = embedded.client(), embedded.threads, embedded.runner
    else:
        runner = f"Dask cluster at {client.scheduler.address}"
    if todo is None:
        todo = writing.create(path, sweep, token)
    report = SweepReport(path, sweep, todo, runner, started)
    shared = client.scatter(sweep, broadcast=True, hash=False)
    cost = estimated_cost(sweep)
    order = sorted(todo, key=lambda b: (-cost[b], b))   # the dearest batch first
    futures = {client.submit(run_batch, path, shared, b, threads, token, pure=False,
                             priority=len(order) - rank,
                             key=f"sparseprop-batch-{b}-{uuid.uuid4().hex}"): b
               for rank, b in enumerate(order)}
    try:
        with _bar(len(todo), progress, sweep) as bar:
            for future in as_completed(futures):
                b = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:   # reported with the batch; the others go on
                    _failed(report, sweep, b, exc)
                    bar.update(1)
                    continue
                _done(report, bar, outcome)
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise
    report.seconds = time.perf_counter() - started
    return report
