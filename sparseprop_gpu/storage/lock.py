"""The lock that lets one sweep at a time own a store: ``<store>.lock``, beside the store.

It is JSON naming the owner (host, pid, a random run token, when it started) and a heartbeat
time the owner refreshes every ``config.LOCK_HEARTBEAT_S``. A lock whose process is gone (on
this host) or whose heartbeat is older than ``config.LOCK_STALE_S`` is stale: the next sweep
takes it over, saying so. Beside the store, not in it, so that creating (``mode="w"``) or
overwriting a store never touches its lock. Taking a lock is atomic on a local path; on a URL
the object store's create-if-absent is not, and two sweeps starting within the same instant
may both believe they own it: the run token in the store's attributes then lets only the last
one's workers write (``writing.write_batch``), and the other's heartbeat finds the lock not
its own and stops it (docs/design.md §4.3).
"""
import os
import socket
import threading
import time
import uuid

from .. import config
from .location import is_url, normalise
from .objects import get, get_json, put_json, delete, store_at


class StoreLock:
    """The lock of the store at ``path``, held by this process while the sweep runs.

    Use it as a context manager: ``acquire`` on entry (ValueError naming the owner if another
    live sweep holds it), a heartbeat thread while held, ``release`` on exit.

    Attributes
    ----------
    token : str
        This run's random token (also written into the store's attributes).
    note : str or None
        What was done to take it (a stale lock taken over), for the report.
    """

    def __init__(self, path):
        self.path = normalise(path)
        parent, name = self.path.rstrip("/").rsplit("/", 1) if is_url(self.path) else \
            os.path.split(self.path)
        self.store, self.key = store_at(parent), f"{name}.lock"
        self.token = uuid.uuid4().hex
        self.note = None
        self._mine = {"kind": "sparseprop-lock", "host": socket.gethostname(),
                      "pid": os.getpid(), "token": self.token, "started": time.time()}
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

    def acquire(self):
        """Take the lock (a stale one taken over); ValueError if a live sweep holds it."""
        for _ in range(3):
            put_json(self.store, self.key, self._stamped(), new=True)
            held = self._held()
            if held is None:                      # removed meanwhile: try again
                continue
            if held["token"] == self.token:
                self._thread = threading.Thread(target=self._beat, daemon=True,
                                                name="sparseprop-lock")
                self._thread.start()
                return self
            why = stale(held)
            if why is None:
                raise ValueError(f"out: {self.path} is in use by another sweep ({owner(held)}); "
                                 "wait for it to end, or stop it (a killed sweep's lock is "
                                 f"taken over once stale: {why_stale()})")
            self.note = f"took over the stale lock of {self.path} ({owner(held)}; {why})"
            delete(self.store, self.key)
        raise ValueError(f"out: could not take the lock of {self.path}: other sweeps are "
                         "taking it at the same time")

    def check(self):
        """ValueError unless this run still holds the lock."""
        held = self._held()
        if held is None or held["token"] != self.token:
            by = "nobody (it was removed)" if held is None else owner(held)
            raise ValueError(f"out: the lock of {self.path} was taken over while this sweep "
                             f"ran, by {by}; this sweep stopped (what it committed is kept)")

    def release(self):
        """Stop the heartbeat and remove the lock if it is still this run's."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        held = self._held()
        if held is not None and held["token"] == self.token:
            delete(self.store, self.key)

    def _stamped(self):
        return {**self._mine, "heartbeat": time.time()}

    def _held(self):
        """The lock there now, or None if there is none."""
        held = get_json(self.store, self.key)
        if isinstance(held, dict) and held.get("kind") == "sparseprop-lock":
            return held
        if held is None and get(self.store, self.key) is None:
            return None
        raise ValueError(f"out: {self.key} beside {self.path} is not a sparseprop lock; "
                         "remove it if no sweep uses it")

    def _beat(self):
        while not self._stop.wait(config.LOCK_HEARTBEAT_S):
            try:
                held = self._held()
                if held is None or held["token"] != self.token:
                    return                        # taken over: check() says so
                put_json(self.store, self.key, self._stamped())
            except Exception:                     # the store is unreachable: try again later
                continue


def stale(held):
    """Why the lock ``held`` is stale, or None if its sweep may still be running."""
    if held["host"] == socket.gethostname() and not alive(held["pid"]):
        return f"its process {held['pid']} is gone"
    age = time.time() - held["heartbeat"]
    if age > config.LOCK_STALE_S:
        return f"no heartbeat for {age:.0f} s"
    return None


def why_stale():
    return (f"when its process is gone, on this host, or after {config.LOCK_STALE_S:.0f} s "
            "without a heartbeat (config.LOCK_STALE_S)")


def owner(held):
    """The owner of the lock ``held``, in words."""
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(held["started"]))
    return (f"host {held['host']}, pid {held['pid']}, since {since}, last heartbeat "
            f"{time.time() - held['heartbeat']:.0f} s ago")


def alive(pid):
    """Whether process ``pid`` runs on this host (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
