"""Batch: the engine arrays of M network instances, one row per instance.

Every backend runs ``kernels.engine.advance_instance`` on rows of these arrays: the CPU
backend over a ``prange``, the CUDA backend one thread per instance. The arrays are the ones
``engine.layout.ARGUMENTS`` declares, held as attributes of those names. Instances in a batch
share the model, the priority-queue key and the connectivity mode; their size, out-degree,
drive, coupling and seeds may differ (rows are sized for the largest).
"""
import numpy as np

from .. import config
from ..compiled import bitmap_words, build_queues, candidate_scratch
from ..kernels import engine, models as km, populations as kp, pqueue
from . import layout



def initial_keys(key_kind, par, phases, neuron):
    """Queue keys of neurons at ``phases`` with the global shift (or time) at zero."""
    if key_kind == km.KEY_EXP:
        return np.exp(-phases / par[km.P_OMEGA])
    if key_kind == km.KEY_TIME:
        return (par[km.P_PHI_TH] - phases) * neuron[:, km.N_TPP]
    if key_kind == km.KEY_EXP_TIME:      # exp(t_next / tau) = (I / (I - 1)) ** (1 - phi)
        return np.exp((par[km.P_PHI_TH] - phases) * np.log(neuron[:, km.N_EXP_RESET]))
    return par[km.P_PHI_TH] - phases


def _key_factors(blocks, key_kind):
    """Per-neuron (n, N_NEURON) rows holding what ``initial_keys`` reads for a network of
    populations: seconds per phase (time key) or I / (I - 1) (exp-time key)."""
    start = blocks.pop_start
    rows = np.zeros((int(start[-1]), km.N_NEURON))
    column, source = ((km.N_EXP_RESET, kp.Q_FREE) if key_kind == km.KEY_EXP_TIME else
                      (km.N_TPP, kp.Q_TPP))
    factor = np.where(blocks.pop_par[:, kp.Q_QUIESCENT] > 0.0, 1.0,   # quiescent: replaced
                      blocks.pop_par[:, source])                      # (``_start_quiescent``)
    rows[:, column] = np.repeat(factor, np.diff(start))
    return rows


def _shared_blocks(blocks):
    """(synapses, segments, segment_base): the distinct stored connectivities one after another
    (segments pointing into the joined synapses) and where each instance's segments start."""
    seen, synapses, segments, size, at = {}, [], [], 0, 0
    base = np.zeros(len(blocks), np.int64)
    for i, b in enumerate(blocks):
        if b.synapses is None:
            continue
        if id(b.synapses) not in seen:
            seen[id(b.synapses)] = at
            synapses.append(b.synapses)
            segments.append(b.segments + size)
            size += b.synapses.shape[0]
            at += b.segments.shape[0]
        base[i] = seen[id(b.synapses)]
    if not synapses:
        return np.zeros(1, np.int32), np.zeros(1, np.int64), base
    return np.concatenate(synapses), np.concatenate(segments), base


def _shared_lookups(lookups, m):
    """(lookup, lookup_base): the distinct lookup tables (the same array object) stored once,
    one after another, and where each instance's starts; a (1,) dummy without tables."""
    starts, parts, size = {}, [], 0
    base = np.zeros(m, np.int64)
    for i, table in enumerate(lookups or ()):
        if id(table) not in starts:
            starts[id(table)] = size
            parts.append(table)
            size += table.shape[0]
        base[i] = starts[id(table)]
    return (np.concatenate(parts) if parts else np.zeros(1)), base


def _quiescent(blocks):
    """Whether some instance has a quiescent population (``kernels.populations.Q_QUIESCENT``)."""
    return blocks is not None and any(np.any(b.pop_par[:, kp.Q_QUIESCENT] > 0.0)
                                      for b in blocks)


def _start_quiescent(heap, rest_gap, blocks, phases):
    """Set the quiescent neurons of one instance going: queue key +inf, gap to rest (I - V)
    at G = 1 with the initial voltage V = ``phases`` (LIF: reset 0, threshold 1)."""
    for a in range(blocks.pop_par.shape[0]):
        if blocks.pop_par[a, kp.Q_QUIESCENT] > 0.0:
            lo, hi = blocks.pop_start[a], blocks.pop_start[a + 1]
            heap[lo:hi] = np.inf
            rest_gap[lo:hi] = blocks.pop_par[a, kp.Q_FREE] - phases[lo:hi]


def _excites(pars, blocks):
    """Whether some instance has excitatory coupling (a neuron can be past threshold)."""
    if blocks is not None:
        return any(np.any(b.block_par[:, kp.B_KICK] > 0.0)
                   or np.any(b.pop_par[:, kp.Q_EXT_TOP] > 0.0) for b in blocks)
    return bool(np.any(np.asarray(pars).reshape(-1, km.N_PAR)[:, km.P_KICK] > 0.0))


class Batch:
    """Engine state of M instances.

    Parameters
    ----------
    model_id, key_kind : int
        ``kernels.models`` constants shared by every instance.
    pars : ndarray (M, N_PAR)
        Model parameter vector of each instance.
    phases : list of M ndarrays
        Initial phases of each instance (length n of that instance).
    ks, seeds : sequences of M ints
        Out-degree and network seed of each instance.
    target_table : ndarray (n, k) of int32, optional
        One stored target table shared by all instances; None: targets drawn on the fly
        from each instance's seed.
    buffer_spikes : int
        Spike-buffer length per instance (>= 1).
    fan_bits : int
        log2 of the priority queue's fan-out.
    neurons : list of M ndarrays (n, N_NEURON), optional
        Per-neuron constants of each instance, for the time keys.
    lookups : list of M 1-D float64 ndarrays, optional
        Each instance's lookup tables (``kernels.lookup``), needed by the ``TABLE`` model.
        Instances that share one (the same array object) read one copy.
    blocks : list of M ``specification.populations.Blocks``, optional
        A network of populations per instance (the time or exp-time key; ``ks`` and
        ``target_table`` unused): the event loop of ``kernels.populations``.
    kicks : ndarray (n, k) of float64, optional
        A weighted network's kick per connection of ``target_table`` (the phase and exp
        keys), shared by every instance.
    """

    def __init__(self, model_id, key_kind, pars, phases, ks, seeds, target_table=None,
                 buffer_spikes=config.SUMMARY_BUFFER, fan_bits=config.FAN_BITS, neurons=None,
                 lookups=None, blocks=None, kicks=None):
        m = len(phases)
        self.blocked = blocks is not None
        if self.blocked and model_id == km.TABLE:       # one table per block, all in a row
            lookups = [table for b in blocks for table in b.tables]
        elif model_id == km.TABLE and (lookups is None or len(lookups) != m):
            raise ValueError("a TABLE model needs one lookup table per instance (lookups)")
        if self.blocked:
            ks = [b.widest for b in blocks]
            target_table = None
            synapses, segments, segment_base = _shared_blocks(blocks)
            pops = blocks[0].pop_par.shape[0]
            stored = blocks[0].synapses is not None
        else:
            synapses, segments = np.zeros(1, np.int32), np.zeros(1, np.int64)
            pops = 1
            stored = target_table is not None
        pars = np.asarray(pars, np.float64).reshape(m, km.N_PAR)
        ns = np.array([p.shape[0] for p in phases], np.int64)
        ks = np.asarray(ks, np.int64).reshape(m)
        geoms = [pqueue.tree_geometry(int(n), fan_bits) for n in ns]
        lookup, lookup_base = _shared_lookups(lookups, len(lookups) if lookups else m)
        n_max, k_max = int(ns.max()), max(int(ks.max()), 1)
        if target_table is not None:
            target_table = np.ascontiguousarray(target_table, np.int32)
        sizes = layout.Sizes(
            m=m, n_max=n_max, k_max=k_max, heap=max(size for _, size in geoms),
            geom=max(g.shape[0] for g, _ in geoms),
            bitmap=1 if stored else bitmap_words(n_max), drawn=1 if stored else k_max,
            candidates=2 if stored else candidate_scratch(k_max),
            neuron_rows=n_max if neurons is not None else 1,
            refractory_rows=n_max if np.any(pars[:, km.P_T_REF] > 0.0) else 1,
            excite_rows=n_max if _excites(pars, blocks) else 1,
            quiescent_rows=n_max if _quiescent(blocks) else 1,
            buffer=buffer_spikes,
            table_rows=target_table.shape[0] if target_table is not None else 1,
            table_cols=target_table.shape[1] if target_table is not None else 1,
            kick_rows=kicks.shape[0] if kicks is not None else 1,
            kick_cols=kicks.shape[1] if kicks is not None else 1,
            lookup=lookup.shape[0], synapses=synapses.shape[0], segments=segments.shape[0],
            pops=pops, pop_bounds=pops + 1, blocks=pops * pops, channels=pops * pops + pops,
            fifo=max(int(b.capacities.sum()) for b in blocks) or 1 if self.blocked else 1,
            stimulus=max(b.stim_time.shape[0] for b in blocks) + 1 if self.blocked else 1)
        self.__dict__.update(layout.allocate(sizes))
        self.past_key[...] = np.inf
        self.ext_time[...] = np.nan               # drawn and keyed by the first launch
        self.stim_key[...] = np.nan
        self.stim_time[...] = np.inf
        self.model, self.key_kind = int(model_id), int(key_kind)
        self.conn_mode = engine.STORED if stored else engine.ON_THE_FLY
        if target_table is not None:
            self.target_table[...] = target_table
        if kicks is not None:
            self.kicks[...] = kicks
        self.pops[...] = pops
        if self.blocked:
            self._set_blocks(blocks, synapses, segments, segment_base)
        self.lookup[...] = lookup
        if self.blocked and model_id == km.TABLE:
            self.block_lookup[...] = lookup_base.reshape(self.block_lookup.shape)
        else:
            self.lookup_base[...] = lookup_base
        self.par[...] = pars
        self.n[...], self.k[...] = ns, ks
        self.seed[...] = np.asarray(seeds, np.int64).reshape(m)
        for i, ((g, _), p) in enumerate(zip(geoms, phases)):
            self.geom[i, :g.shape[0]] = g
            if neurons is not None:
                self.neuron[i, :p.shape[0]] = neurons[i]
            per_neuron = _key_factors(blocks[i], key_kind) if self.blocked else \
                self.neuron[i, :p.shape[0]]
            self.heap[i, :p.shape[0]] = initial_keys(key_kind, self.par[i], p, per_neuron)
            if self.rest_gap.shape[1] > 1:
                _start_quiescent(self.heap[i], self.rest_gap[i], blocks[i], p)
        build_queues(self.heap, self.geom, self.n)
        self.rec_cap[...] = np.iinfo(np.int64).max

    def _set_blocks(self, blocks, synapses, segments, segment_base):
        self.population_names = [b.names for b in blocks]
        self.synapses[...] = synapses
        self.segments[...] = segments
        self.segment_base[...] = segment_base
        for i, b in enumerate(blocks):
            self.pop_start[i] = b.pop_start
            self.pop_par[i] = b.pop_par
            self.block_par[i] = b.block_par
            self.block_k[i] = b.block_k
            self.noise_seed[i] = b.noise_seed
            events = b.stim_time.shape[0]
            self.stim_time[i, :events] = b.stim_time
            self.stim_target[i, :events] = b.stim_target
            self.stim_kick[i, :events] = b.stim_kick
            ends = np.cumsum(b.capacities)
            self.fifo_ring[i, :, kp.R_BASE] = ends - b.capacities
            self.fifo_ring[i, :, kp.R_CAPACITY] = b.capacities

    @property
    def size(self):
        """Number of instances."""
        return self.n.shape[0]

    @property
    def variant(self):
        """The compiled event loop this batch runs: ``layout.VARIANTS``'s
        ``(tabulated, featured, blocked)``."""
        if self.blocked:
            return self.tabulated, self.extended, True
        return self.tabulated, self.featured, False

    @property
    def extended(self):
        """Whether some instance of a network of populations has Poisson input, a stimulus or
        a quiescent population (its event loop compiled with their code)."""
        return bool(np.any(self.pop_par[..., kp.Q_EXT_RATE] > 0.0)
                    or np.any(self.stim_time[:, 0] < np.inf)
                    or np.any(self.pop_par[..., kp.Q_QUIESCENT] > 0.0))

    @property
    def featured(self):
        """Whether some instance has a refractory period, excitatory coupling or a kick per
        connection (the event loop compiled with their code)."""
        return bool(np.any(self.par[:, km.P_T_REF] > 0.0) or np.any(self.par[:, km.P_KICK] > 0.0)
                    or self.kicks.shape[0] > 1)

    @property
    def tabulated(self):
        """Whether the model is a TABLE model (its own compiled event loop)."""
        return self.model == km.TABLE

    def arrays(self):
        """Every SHARED and INSTANCE array, by name."""
        return {name: getattr(self, name) for name in layout.ARRAYS}

    def constants(self):
        """The CONSTANT scalars, by name."""
        return {"model": self.model, "key_kind": self.key_kind, "conn_mode": self.conn_mode}

    def nbytes(self, instance=0):
        """Bytes of engine state per instance (a stored table and the lookup tables count in
        full)."""
        per_row = sum(getattr(self, name)[instance].nbytes for name in layout.PER_INSTANCE)
        return per_row + sum(getattr(self, a.name).nbytes for a in layout.ARGUMENTS
                             if a.role == layout.SHARED)

    def carried(self):
        """The state a run carries on from (``layout.CARRIED``), by name, each (M, ...) and
        padded to the largest n: ``keys`` (the queue's keys; NaN beyond an instance's n), and
        views of ``clock``, ``counts``, ``isi``, ``refractory_end`` and ``past_key`` (one
        element per instance without a refractory period, or without excitation), and for a
        network of populations the spikes in flight and the external input
        (``layout.IN_FLIGHT``, ``layout.EXTERNAL``)."""
        n_max = self.counts.shape[1]
        keys = np.where(np.arange(n_max) < self.n[:, None], self.heap[:, :n_max], np.nan)
        out = {"keys": keys, "clock": self.clock, "counts": self.counts, "isi": self.isi,
               **{name: getattr(self, name) for name in layout.PER_NEURON_STATE}}
        if self.blocked:
            out.update({name: getattr(self, name) for name in layout.IN_FLIGHT + layout.EXTERNAL})
        return out

    def carry_on(self, keys, clock, counts, isi, **more):
        """Put every instance back where ``carried`` found it (arrays (M, ...) as it gives
        them): the next launch continues those runs bitwise as if they had never stopped.

        ``refractory_end`` is needed where an instance has a refractory period, and the
        spikes in flight (``layout.IN_FLIGHT``) for a network of populations; ``past_key``
        and the external input (``layout.EXTERNAL``), where given (states saved before 0.5
        and 0.6 have none: no neuron was past threshold, no external input)."""
        needed = tuple(name for name in ("refractory_end", "rest_gap")
                       if getattr(self, name).shape[1] > 1) + \
            (layout.IN_FLIGHT if self.blocked else ())
        for name in needed:
            if name not in more:
                what = {"refractory_end": "each neuron's end of refractoriness (t_ref > 0)",
                        "rest_gap": "the voltages of quiescent populations' neurons"}.get(
                            name, "the spikes in flight of a network of populations")
                raise ValueError(f"continuing this run needs {what}, which the state given "
                                 "does not hold (records since 0.4 keep it; ensemble results "
                                 "and sweep stores do not yet): run it again from the start")
            target = getattr(self, name)
            value = np.asarray(more[name])
            if value.ndim > 1:          # rows padded for the widest instance of a run
                value = value[:, :target.shape[1]]
            if value.shape != target.shape:
                raise ValueError(f"the state's {name} has shape {value.shape}, this run's "
                                 f"{target.shape}: continue a run with the network it ran")
            target[...] = value
        for name in layout.EXTERNAL if self.blocked else ():
            if name in more:
                target, value = getattr(self, name), np.asarray(more[name])
                if value.shape != target.shape:
                    raise ValueError(f"the state's {name} has shape {value.shape}, this run's "
                                     f"{target.shape}: a state of 0.6 with Poisson input (one "
                                     "event per population, not a row drawn ahead) cannot be "
                                     "continued by this version; run it again from the start")
                target[...] = value
        if "past_key" in more and self.past_key.shape[1] > 1:
            self.past_key[...] = np.asarray(more["past_key"])[:, :self.past_key.shape[1]]
        for m, n in enumerate(self.n):
            self.heap[m, :n] = keys[m, :n]
        build_queues(self.heap, self.geom, self.n)
        self.clock[...] = clock
        width = self.counts.shape[1]
        self.counts[...] = counts[:, :width]
        self.isi[...] = isi[:, :width]

    def time(self, m=0):
        """Time of the next spike of instance ``m`` (s)."""
        root = pqueue.pq_root(self.geom[m])
        shift = km.shift_of(self.key_kind, self.heap[m, root], self.par[m])
        clock = self.clock[m]
        return clock[0] + (clock[1] + km.elapsed(self.key_kind, shift, self.par[m]))
