"""Networks of populations: named populations, a connection block for every ordered pair with its
own rule, coupling and delay, and the two parametrisations of the literature (docs/design.md
§2.14).

``PopulationNetwork`` is the general form; ``brunel`` (Brunel 2000, model A) and ``balanced``
(van Vreeswijk and Sompolinsky 1996, 1998) build one from the papers' parameters.
"""
import math
from collections import namedtuple

import numpy as np

from .. import config, validate
from ..compiled import bernoulli_degrees, bernoulli_draws, distinct_draws, poisson_events
from ..kernels import models as km, populations as kp
from ..options import CONNECTIVITY, RULES
from . import memory
from .inputs import PoissonInput, Stimulus, check_poisson
from .models import LIF, NeuronModel, check_refractory
from .network import SEED_MAX

Blocks = namedtuple("Blocks", "pop_start pop_par block_par block_k capacities synapses segments "
                              "widest tables noise_seed stim_time stim_target stim_kick names")
Blocks.__doc__ = """One instance's network of populations, for the engine (``kernels.populations``).

pop_start : int64 (P + 1,); pop_par : float64 (P, N_POP); block_par : float64 (P*P, N_BLOCK)
block_k : int64 (P*P,)
    Out-degree of each block drawn on the fly (zeros when stored).
capacities : int64 (P*P,)
    FIFO slots of each block (0 for a block without delay).
synapses : int32 (S,), segments : int64 (n P + 1,), or None on the fly
    The stored targets: those of neuron j in population b are ``synapses[segments[j P + b]:
    segments[j P + b + 1]]``. Instances holding the same array objects share one copy.
widest : int
    The most targets one spike reaches in one block.
tables : list of P*P + P float64 arrays, or None
    Table models: each block's lookup table (the target population's drive, with the input
    map of the block's J; ``kernels.lookup``), the same array objects for equal ones; then
    each population's for its external input (the map of its Poisson weight).
noise_seed : int
    The Poisson input's seed.
stim_time : float64 (E,); stim_target : int32 (E,); stim_kick : float64 (E,)
    The stimulus events: times (s), targets and kicks (``B_KICK``'s terms).
names : tuple of str
    The populations' names (for messages).
"""

Population = namedtuple("Population", "name n drive t_ref tau", defaults=(0.0, None))
Population.__doc__ = """One population of a ``PopulationNetwork``.

name : str
    Its name (unique in the network), used by projections, results and stores.
n : int
    Neurons, >= 1.
drive : float
    The drive I of every neuron (the model's voltage units): the rest it relaxes to. It makes
    the neuron fire on its own (LIF I > 1, QIF I > 0), or, for LIF only, I <= 1: a quiescent
    population, whose neurons fire only where inputs take them to threshold (Brunel's model A
    at rest, I = V_rest); they start from voltages (``initial_phases`` is then V in [0, 1),
    reset 0, threshold 1) and need the exp key (one tau for every population).
t_ref : float
    Refractory period (s), >= 0: after a spike inputs are ignored for t_ref, then the neuron
    restarts from reset.
tau : float, optional
    Membrane time constant (s); default: the model's.
"""

Projection = namedtuple("Projection", "source target coupling delay k indegree p",
                        defaults=(0.0, None, None, None))
Projection.__doc__ = """The connections from population ``source`` to ``target`` (names).

coupling : float
    The voltage jump J of every connection (the target model's units): > 0 excitatory,
    < 0 inhibitory.
delay : float
    Synaptic delay D (s), >= 0: a spike at t arrives at t + D, exactly.
k, indegree, p : exactly one
    Fixed out-degree (k distinct targets per source neuron; drawn on the fly or stored),
    fixed in-degree (``indegree`` distinct sources per target neuron, NEST's
    ``fixed_indegree`` without multapses; stored), or pairwise Bernoulli with probability
    ``p`` (on the fly or stored, the same network). No autapses within a population.
"""


def _rule(proj):
    given = [name for name in RULES if getattr(proj, name) is not None]
    if len(given) != 1:
        raise ValueError(f"projection {proj.source}->{proj.target}: give exactly one of k "
                         f"(fixed out-degree), indegree (fixed in-degree) or p (Bernoulli); "
                         f"got {', '.join(given) or 'none'}")
    return given[0]


class PopulationNetwork:
    """A network of populations of one model family.

    Parameters
    ----------
    model : NeuronModel
        ``LIF``, ``QIF``, ``EIF`` or a ``TableModel``; each population may set its own tau.
    populations : sequence of Population
        Neurons are numbered population after population, in this order.
    projections : sequence of Projection
        At most one per ordered pair (source, target); pairs without one are unconnected.
    seed : int
        Network (connectivity) seed, 0 <= seed < 2**63.
    ic_seed : int, optional
        Initial-condition seed (default ``seed``): phases uniform on [reset, threshold).
    connectivity : {"auto", "stored", "on_the_fly"}
        "on_the_fly" (fixed out-degree and Bernoulli blocks) draws a spike's targets when it
        is delivered; fixed in-degree blocks are stored. "auto" stores the connections
        where a block needs it, or below ``config.STORED_BELOW`` neurons where they fit.
    initial_phases : array_like (n,), optional
    max_rate : float, optional
        The highest rate (Hz) a neuron is expected to reach, which sizes the FIFOs of
        spikes in flight: ``n_a (D_ab max_rate + 1)`` slots per block. Default: 1 / t_ref
        of the source population (a bound no network can exceed), or
        ``config.MAX_RATE_HZ`` without refractoriness; a run that exceeds it stops with an
        error that says so.
    inputs : sequence of PoissonInput, optional
        Poisson input per population (at most one each): exact input events at exact times,
        an independent Poisson process per neuron.
    stimulus : Stimulus, optional
        Input events (time, target neuron, weight) delivered at their exact times.
    noise_seed : int, optional
        Seed of the Poisson input (default ``seed``), 0 <= noise_seed < 2**63: a run depends
        on it and the parameters only, not on the batch, worker count or backend.
    """

    def __init__(self, model, populations, projections, *, seed=0, ic_seed=None,
                 connectivity="auto", initial_phases=None, max_rate=None, inputs=(),
                 stimulus=None, noise_seed=None):
        if not isinstance(model, NeuronModel):
            raise ValueError(f"model must be a NeuronModel such as sp.LIF(...), sp.QIF(...) or "
                             f"sp.EIF(...); got {model!r}")
        self.model = model
        self.populations = self._check_populations(populations)
        self.names = tuple(p.name for p in self.populations)
        sizes = np.array([p.n for p in self.populations], np.int64)
        self.pop_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.n = validate.integer("n (all populations)", int(self.pop_start[-1]), 2, 2**31 - 1)
        self.given_projections = tuple(Projection(*p) if not isinstance(p, Projection) else p
                                       for p in projections)
        self.projections = self._check_projections(self.given_projections)
        self.seed = validate.integer("seed", seed, 0, SEED_MAX)
        self.ic_seed = self.seed if ic_seed is None else validate.integer("ic_seed", ic_seed, 0,
                                                                          SEED_MAX)
        self.max_rate = None if max_rate is None else validate.real(
            "max_rate (Hz)", max_rate, 0.0, math.inf, low_open=True)
        validate.choice("connectivity", connectivity, CONNECTIVITY)
        self.connectivity = self._check_connectivity(connectivity)
        self.given_inputs = tuple(inputs)
        self.poisson = check_poisson(self.given_inputs, self.names)
        self.noise_seed = self.seed if noise_seed is None else validate.integer(
            "noise_seed", noise_seed, 0, SEED_MAX)
        if stimulus is not None and not isinstance(stimulus, Stimulus):
            raise ValueError(f"stimulus must be a sp.Stimulus (times, targets, weights); got "
                             f"{stimulus!r}")
        self.stimulus = None if stimulus is None else stimulus.check(self.n)
        self.tau = self._taus()
        self.t_ref = max(p.t_ref for p in self.populations)
        memory.check(f"delay and max_rate: {self.fifo_total()} slots for the spikes in flight",
                     20 * self.fifo_total(), "shorter delays, a smaller max_rate (Hz), or a "
                     "refractory period (t_ref bounds the spikes in flight)")
        self._phases = None if initial_phases is None else self._check_phases(initial_phases)
        self._stored = None
        self._blocks = {}
        self.parametrisation = None

    # ---------------------------------------------------------------- checks
    def _check_populations(self, populations):
        populations = [Population(*p) if not isinstance(p, Population) else p
                       for p in populations]
        if not populations:
            raise ValueError("populations must name at least one population")
        seen, out = set(), []
        for i, p in enumerate(populations):
            if not isinstance(p.name, str) or not p.name or p.name in seen:
                raise ValueError(f"populations[{i}].name must be a new, non-empty string; got "
                                 f"{p.name!r}")
            seen.add(p.name)
            what = f"population {p.name!r}"
            n = validate.integer(f"{what}: n", p.n, 1, 2**31 - 1)
            tau = self.model.tau if p.tau is None else validate.real(
                f"{what}: tau (s)", p.tau, 0.0, math.inf, low_open=True)
            model = self.model.with_tau(tau)
            try:
                drive = (validate.real("drive (a quiescent LIF population: I <= 1)", p.drive)
                         if model.kernel_id == km.LIF and np.ndim(p.drive) == 0
                         and p.drive <= 1.0 else model.check_drive(p.drive))
                t_ref = check_refractory(p.t_ref, tau)
            except ValueError as exc:
                raise ValueError(f"{what}: {exc}") from None
            out.append(Population(p.name, n, drive, t_ref, tau))
        return tuple(out)

    def _index(self, name, role, proj):
        if name not in self.names:
            raise ValueError(f"projection {proj.source!r}->{proj.target!r}: unknown {role} "
                             f"population {name!r}; the populations are {', '.join(self.names)}")
        return self.names.index(name)

    def _check_projections(self, projections):
        out = {}
        for proj in projections:
            proj = Projection(*proj) if not isinstance(proj, Projection) else proj
            a = self._index(proj.source, "source", proj)
            b = self._index(proj.target, "target", proj)
            what = f"projection {proj.source}->{proj.target}"
            if (a, b) in out:
                raise ValueError(f"{what} is given twice; one projection per ordered pair")
            rule = _rule(proj)
            n_a, n_b = self.populations[a].n, self.populations[b].n
            coupling = validate.real(f"{what}: coupling", proj.coupling)
            delay = validate.real(f"{what}: delay (s)", proj.delay, 0.0, math.inf)
            if rule == "p":
                most = n_b - (a == b)
                value = validate.real(f"{what}: p", proj.p, 0.0, 1.0, low_open=True)
            else:                         # k targets in b, or indegree sources in a
                each, other, n_other = ((proj.source, proj.target, n_b) if rule == "k" else
                                        (proj.target, proj.source, n_a))
                most = n_other - (a == b)
                kind = "targets" if rule == "k" else "sources"
                value = validate.integer(f"{what}: {rule} ({kind} per {each} neuron in {other} "
                                         f"of {n_other} neurons"
                                         + (", itself excluded" if a == b else "") + ")",
                                         getattr(proj, rule), 1, max(most, 1))
            if most < 1:
                raise ValueError(f"{what}: a population of one neuron cannot connect to itself")
            out[(a, b)] = (rule, value, coupling, delay)
        return out

    def _check_connectivity(self, connectivity):
        needs_table = any(rule == "indegree" for rule, _, _, _ in self.projections.values())
        if connectivity == "on_the_fly" and needs_table:
            raise ValueError("connectivity must be 'stored' or 'auto': fixed in-degree blocks are "
                             "stored (fixed out-degree and Bernoulli blocks can be drawn on the "
                             "fly)")
        synapses = self.expected_synapses()
        table = 4 * synapses + 8 * (self.n * len(self.populations) + 1)
        if connectivity == "auto":
            connectivity = "stored" if needs_table or (
                self.n < config.STORED_BELOW and memory.fits(table)) else "on_the_fly"
        if connectivity == "stored":
            memory.check(f"connectivity = 'stored': {synapses:.4g} synapses of n = {self.n}",
                         table, "fixed out-degree blocks with connectivity='on_the_fly' draw "
                         "the same targets at every spike in O(n) memory")
        return connectivity

    def _taus(self):
        taus = np.array([p.tau for p in self.populations])
        if np.all(taus == taus[0]):
            return float(taus[0])
        return np.repeat(taus, [p.n for p in self.populations])

    def _check_phases(self, phases):
        phases = validate.finite_array("initial_phases", phases, (self.n,))
        if np.any(phases >= self.model.phase_threshold):
            raise ValueError(f"initial_phases must be below the threshold phase "
                             f"{self.model.phase_threshold:g}")
        if self.model.phase_reset < 0 and np.any(phases <= self.model.phase_reset):
            raise ValueError(f"initial_phases must be above the reset phase "
                             f"{self.model.phase_reset:g}")
        return phases

    # ---------------------------------------------------------------- what runs read
    @property
    def quiescent(self):
        """Names of the populations driven at or below threshold (LIF, I <= 1)."""
        if self.model.kernel_id != km.LIF:
            return ()
        return tuple(p.name for p in self.populations if p.drive <= 1.0)

    heterogeneous = True
    """Populations differ in drive and tau: the time or exp-time key runs them."""

    @property
    def k(self):
        """The most connections one spike makes in one block (expected, for Bernoulli)."""
        return max([1] + [int(self._block_degree(a, b)) for (a, b) in self.projections])

    def _block_degree(self, a, b):
        rule, value, _, _ = self.projections[(a, b)]
        n_a, n_b = self.populations[a].n, self.populations[b].n
        if rule == "k":
            return value
        if rule == "indegree":
            return value * n_b / n_a
        return value * (n_b - (a == b))

    def expected_synapses(self):
        """Connections in the network (expected, for Bernoulli blocks)."""
        return sum(self.populations[a].n * self._block_degree(a, b) for a, b in self.projections)

    @property
    def initial_phases(self):
        """Initial phases (n,): given, or uniform on [reset, threshold) from ``ic_seed``."""
        if self._phases is None:
            rng = np.random.default_rng([self.ic_seed, 0x1C])
            self._phases = rng.uniform(self.model.phase_reset, self.model.phase_threshold,
                                       self.n)
        return self._phases

    def population_models(self):
        """Each population's model (its own tau)."""
        return [self.model.with_tau(p.tau) for p in self.populations]

    def shortest_period(self):
        """The shortest free period of any neuron (s); inf where every population is
        quiescent."""
        return min([math.inf] + [m.period(p.drive) for m, p in
                                 zip(self.population_models(), self.populations)
                                 if p.name not in self.quiescent])

    def neurons(self, name):
        """The neurons of population ``name``, numbered across the network (a range)."""
        if name not in self.names:
            raise ValueError(f"unknown population {name!r}; the populations are "
                             f"{', '.join(self.names)}")
        a = self.names.index(name)
        return range(int(self.pop_start[a]), int(self.pop_start[a + 1]))

    def population_of(self):
        """(n,) int: the population of each neuron."""
        return np.repeat(np.arange(len(self.populations)), [p.n for p in self.populations])

    # ---------------------------------------------------------------- connectivity
    def synapse_lists(self):
        """The stored connectivity as (synapses int32 (S,), segments int64 (n P + 1,)): the
        targets of neuron j in population b are ``synapses[segments[j P + b]:segments[j P + b
        + 1]]``; fixed out-degree targets in draw order (as on the fly), the others in
        increasing order."""
        if self._stored is None:
            self._stored = self._draw_synapses()
        return self._stored

    def _draw_synapses(self):
        pops = len(self.populations)
        start = self.pop_start
        keys, targets = [], []
        for (a, b), (rule, value, _, _) in sorted(self.projections.items()):
            n_a, n_b, same, ab = self.populations[a].n, self.populations[b].n, a == b, a * pops + b
            if rule == "k":
                tgt = distinct_draws(self.seed, ab, n_a, n_b, same, value, start[b])
                src = np.repeat(np.arange(start[a], start[a + 1]), value)
            elif rule == "p":
                degrees, tgt = bernoulli_draws(self.seed, ab, n_a, n_b, same, value, start[b])
                src = np.repeat(np.arange(start[a], start[a + 1]), degrees)
            else:
                src = distinct_draws(self.seed, ab, n_b, n_a, same, value, start[a])
                tgt = np.repeat(np.arange(start[b], start[b + 1], dtype=np.int32), value)
            keys.append(src.astype(np.int64) * pops + b)
            targets.append(tgt)
        key = np.concatenate(keys) if keys else np.zeros(0, np.int64)
        order = np.argsort(key, kind="stable")
        synapses = (np.concatenate(targets)[order] if targets else np.zeros(0, np.int32))
        counts = np.bincount(key, minlength=self.n * pops)
        segments = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return np.ascontiguousarray(synapses, np.int32), segments

    def out_lists(self):
        """(indptr (n + 1,), targets, coupling, delay), every synapse of the network as CSR
        out-lists in the engine's order: the oracle's input
        (``reference.simulate_populations``)."""
        pops = len(self.populations)
        if self.connectivity == "stored":
            synapses, segments = self.synapse_lists()
        else:
            synapses, segments = self._draw_synapses()
        indptr = segments[::pops]
        block_of = np.repeat(np.tile(np.arange(pops), self.n) + np.repeat(
            self.population_of() * pops, pops), np.diff(segments))
        coupling = np.zeros(pops * pops)
        delay = np.zeros(pops * pops)
        for (a, b), (_, _, j, d) in self.projections.items():
            coupling[a * pops + b], delay[a * pops + b] = j, d
        return indptr, synapses.astype(np.int64), coupling[block_of], delay[block_of]

    def input_events(self, t_end):
        """(times (s), targets, weights) of every external input event up to ``t_end`` (s),
        the stimulus's and the Poisson events the engine draws, in the engine's order (by time;
        at one instant the stimulus's first, then the populations' in order): the oracle's
        ``external`` (``reference.simulate_populations``)."""
        parts = [(self.stimulus.times, self.stimulus.targets, self.stimulus.weights)] \
            if self.stimulus is not None else []
        for b, (rate, weight, sources) in sorted(self.poisson.items()):
            n_b = self.populations[b].n
            if rate > 0:
                times, local = poisson_events(self.noise_seed, b, n_b * sources * rate, n_b,
                                              t_end)
                parts.append((times, local + self.pop_start[b], np.full(times.size, weight)))
        if not parts:
            return np.zeros(0), np.zeros(0, np.int64), np.zeros(0)
        times, targets, weights = (np.concatenate(x) for x in zip(*parts))
        keep = times <= t_end
        order = np.argsort(times[keep], kind="stable")
        return times[keep][order], targets[keep][order], weights[keep][order]

    # ---------------------------------------------------------------- engine
    def engine_blocks(self, key_kind):
        """The engine's ``Blocks`` for this network on ``key_kind`` (KEY_TIME or
        KEY_EXP_TIME); made once per key (a checkpointed run asks at every segment, and a
        Bernoulli block drawn on the fly costs a counting pass over its stream)."""
        if key_kind not in self._blocks:
            self._blocks[key_kind] = self._engine_blocks(key_kind)
        return self._blocks[key_kind]

    def _engine_blocks(self, key_kind):
        pops = len(self.populations)
        models = self.population_models()
        span = self.model.phase_threshold - self.model.phase_reset
        pop_par = np.zeros((pops, kp.N_POP))
        for a, (m, p) in enumerate(zip(models, self.populations)):
            pop_par[a, kp.Q_T_REF] = p.t_ref
            if a in self.poisson:
                rate, weight, sources = self.poisson[a]
                pop_par[a, kp.Q_EXT_RATE] = p.n * sources * rate
                pop_par[a, kp.Q_EXT_KICK] = self._kick(key_kind, a, weight)
            if p.name in self.quiescent:      # the exp-time key (resolve_key): gaps to rest
                pop_par[a, kp.Q_QUIESCENT] = 1.0
                pop_par[a, kp.Q_TPP] = math.inf
                pop_par[a, kp.Q_REF_STEP] = math.exp(p.t_ref / p.tau)
                pop_par[a, kp.Q_FREE] = p.drive
                pop_par[a, kp.Q_RESET] = p.drive * pop_par[a, kp.Q_REF_STEP]
                continue
            omega = float(m.omega(p.drive))
            tpp = p.tau / omega
            pop_par[a, kp.Q_OMEGA], pop_par[a, kp.Q_TPP] = omega, tpp
            if key_kind == km.KEY_EXP_TIME:
                free = p.drive / (p.drive - 1.0)
                pop_par[a, kp.Q_REF_STEP] = math.exp(p.t_ref / p.tau)
                pop_par[a, kp.Q_FREE] = free
                pop_par[a, kp.Q_RESET] = free * pop_par[a, kp.Q_REF_STEP]
            else:
                pop_par[a, kp.Q_REF_STEP] = p.t_ref
                pop_par[a, kp.Q_FREE] = span * tpp
                pop_par[a, kp.Q_RESET] = span * tpp + p.t_ref
        stim_time, stim_target, stim_kick = self._stimulus_events(key_kind)
        for a in range(pops):
            into = stim_kick[(stim_target >= self.pop_start[a])
                             & (stim_target < self.pop_start[a + 1])]
            poisson = pop_par[a, kp.Q_EXT_KICK] if pop_par[a, kp.Q_EXT_RATE] > 0 else 0.0
            pop_par[a, kp.Q_EXT_TOP] = max(0.0, poisson, into.max(initial=0.0))
        block_par = np.zeros((pops * pops, kp.N_BLOCK))
        block_k = np.zeros(pops * pops, np.int64)
        capacities = np.zeros(pops * pops, np.int64)
        tau = self.populations[0].tau
        for (a, b), (rule, value, j, d) in self.projections.items():
            ab = a * pops + b
            block_par[ab, kp.B_KICK] = self._kick(key_kind, b, j)
            if key_kind == km.KEY_EXP_TIME:
                block_par[ab, kp.B_DELAY] = math.exp(d / tau)
            else:
                block_par[ab, kp.B_DELAY] = d
            block_par[ab, kp.B_SECONDS] = d
            if self.connectivity == "on_the_fly":
                if rule == "k":
                    block_k[ab] = value
                else:                       # Bernoulli: the gaps' log1p(-p), -inf for p = 1
                    block_par[ab, kp.B_LOG_Q] = math.log1p(-value) if value < 1.0 else -math.inf
            if d > 0.0:
                capacities[ab] = self.fifo_slots(a, d)
        tables = None
        if self.model.kernel_id == km.TABLE:       # one per block: the target's drive and J
            empty = models[0]._table_set((self.populations[0].drive,), None)[0]
            tables = [empty] * (pops * pops)
            for (a, b), (_, _, j, _) in self.projections.items():
                tables[a * pops + b] = models[b]._table_set((self.populations[b].drive,),
                                                            float(j))[0]
            tables += [models[b]._table_set((p.drive,), self.poisson[b][1] if b in self.poisson
                                            else None)[0]
                       for b, p in enumerate(self.populations)]
        if self.connectivity == "stored":
            synapses, segments = self.synapse_lists()
            widest = int(np.diff(segments).max(initial=1))
        else:
            synapses = segments = None
            widest = max([int(block_k.max(initial=1))] + [
                self._widest_bernoulli(a, b) for (a, b), (rule, _, _, _)
                in self.projections.items() if rule == "p"])
        return Blocks(self.pop_start, pop_par, block_par, block_k, capacities, synapses,
                      segments, max(widest, 1), tables, self.noise_seed, stim_time,
                      stim_target, stim_kick, self.names)

    def _kick(self, key_kind, b, weight):
        """The kick of an input of ``weight`` (voltage; a number or an array) into population
        b on ``key_kind``: ``B_KICK``'s terms."""
        target = self.populations[b]
        if target.name in self.quiescent:
            return weight                     # J itself (kernels.populations.B_KICK)
        if key_kind == km.KEY_EXP_TIME:
            return weight / (target.drive - 1.0)
        return self.model.with_tau(target.tau)._kick(target.drive, weight)

    def _stimulus_events(self, key_kind):
        """(times, targets int32, kicks) of the stimulus on ``key_kind`` (empty without)."""
        if self.stimulus is None:
            return np.zeros(0), np.zeros(0, np.int32), np.zeros(0)
        stim = self.stimulus
        pop = np.searchsorted(self.pop_start, stim.targets, side="right") - 1
        kicks = np.zeros(len(stim))
        for b in range(len(self.populations)):
            kicks[pop == b] = self._kick(key_kind, b, stim.weights[pop == b])
        return stim.times, stim.targets.astype(np.int32), kicks

    def _widest_bernoulli(self, a, b):
        """The largest out-degree of Bernoulli block ab (one counting pass over its stream):
        the scratch a spike's targets drawn on the fly need."""
        pops = len(self.populations)
        _, p, _, _ = self.projections[(a, b)]
        degrees = bernoulli_degrees(self.seed, a * pops + b, self.populations[a].n,
                                    self.populations[b].n, a == b, p)
        return int(degrees.max(initial=0))

    def longest_delay(self):
        """The longest delay of any block (s)."""
        return max([0.0] + [d for _, _, _, d in self.projections.values()])

    def fifo_total(self):
        """FIFO slots of every delayed block together (at least 1)."""
        return max(1, sum(self.fifo_slots(a, d) for (a, _), (_, _, _, d)
                          in self.projections.items() if d > 0))

    def fifo_slots(self, a, delay):
        """FIFO slots for the spikes of population ``a`` in flight for ``delay`` (s)."""
        p = self.populations[a]
        rate = self.max_rate or (1.0 / p.t_ref if p.t_ref > 0 else config.MAX_RATE_HZ)
        return int(p.n * (math.floor(delay * rate) + 1))

    def engine_inputs(self, key_kind, rebase=True):
        """(par, Blocks) of this network for the engine on ``key_kind``: the model constants
        the loop reads (threshold, reset, tau, rebasing; ``P_T_REF`` the longest refractory
        period) and the populations' and blocks' own."""
        first = self.populations[0]
        drive = first.drive if first.drive > 1.0 else 2.0  # par: tau and rebasing (drives are
        span = self.model.phase_threshold - self.model.phase_reset   # pop_par's)
        blocks = self.engine_blocks(key_kind)
        rebase_at = None if key_kind == km.KEY_EXP_TIME else \
            config.REBASE_PERIODS * span * float(blocks.pop_par[:, kp.Q_TPP].max())
        par = self.model.with_tau(first.tau).kernel_params(
            drive, 0.0, key="exp" if key_kind == km.KEY_EXP_TIME else "time",
            rebase=rebase, rebase_at=rebase_at, t_ref=self.t_ref)
        return par, blocks

    # ---------------------------------------------------------------- description
    def describe(self):
        """Plain-data description for records and stores."""
        return {"model": self.model.name, "model_params": self.model.params(),
                "tau": self.model.tau, "n": self.n,
                "populations": [dict(p._asdict()) for p in self.populations],
                "projections": [{"source": self.names[a], "target": self.names[b],
                                 "rule": rule, "value": value, "coupling": j, "delay": d}
                                for (a, b), (rule, value, j, d) in self.projections.items()],
                "seed": self.seed, "ic_seed": self.ic_seed, "connectivity": self.connectivity,
                **self._describe_inputs(),
                **({"parametrisation": self.parametrisation} if self.parametrisation else {})}

    def _describe_inputs(self):
        """The external input's entries of ``describe`` (none without: as before 0.6)."""
        out = {}
        if self.poisson:
            out["inputs"] = [{"target": self.names[b], "rate": rate, "weight": w, "sources": c}
                             for b, (rate, w, c) in sorted(self.poisson.items())]
        if self.stimulus is not None:
            out["stimulus"] = self.stimulus.describe()
        if out:
            out["noise_seed"] = self.noise_seed
        return out

    def __repr__(self):
        pops = ", ".join(f"{p.name}: {p.n}" for p in self.populations)
        return (f"PopulationNetwork({self.model!r}, {pops}, {len(self.projections)} "
                f"projections, seed={self.seed}, connectivity={self.connectivity!r})")


def rebuild(base, params, seed, ic_seed, noise_seed=None, stimulus=None):
    """The network ``base`` with its parametrisation's ``params`` changed (a dict of some of
    ``base.parametrisation``'s keys; none for a network not made by a constructor), the given
    seeds (``noise_seed`` None: ``seed``, as in a new network), its Poisson inputs, and
    ``stimulus`` (None: ``base``'s)."""
    own_inputs = base.parametrisation is None or "external" not in base.parametrisation
    kw = dict(seed=seed, ic_seed=ic_seed, connectivity=base.connectivity,
              **({"inputs": base.given_inputs} if own_inputs else {}), noise_seed=noise_seed,
              stimulus=base.stimulus if stimulus is None else stimulus)
    if base.parametrisation is None:
        return PopulationNetwork(base.model, base.populations, base.given_projections,
                                 max_rate=base.max_rate, **kw)
    described = dict(base.parametrisation)
    name = described.pop("name")
    described.update(params)
    if name == "brunel":
        return brunel(**described, **kw)
    return balanced(base.model, **described, **kw)


def brunel(n_e=10_000, g=5.0, eta=2.0, j=0.1, delay=1.5e-3, t_ref=2e-3, *, external="mean",
           epsilon=0.1, gamma=0.25, tau=20e-3, theta=20.0, v_reset=10.0, seed=0, ic_seed=None,
           connectivity="auto", **inputs):
    """Brunel's (2000) model A: N_E excitatory and N_I = gamma N_E inhibitory LIF neurons, each
    receiving C_E = epsilon N_E excitatory connections of J and C_I = epsilon N_I inhibitory
    ones of -g J (fixed in-degree), all with delay D and refractory period t_ref.

    The external input of the paper, C_E Poisson sources of rate nu_ext = eta nu_thr (nu_thr =
    theta / (J C_E tau)) and weight J onto every neuron, is either exactly that
    (``external="poisson"``: the neurons rest at 0 mV, a quiescent population, and fire
    where inputs take them to threshold; any eta > 0) or its mean, a constant drive mu_ext =
    eta theta (``external="mean"``; the neurons fire without input, eta > 1). Voltages are in
    the paper's mV (rest 0, threshold theta, reset v_reset) and mapped exactly onto the
    engine's LIF (threshold 1, reset 0): V' = (V - v_reset) / (theta - v_reset).

    Parameters
    ----------
    n_e : int
        Excitatory neurons N_E (the paper: 10 000).
    g, eta : float
        Relative inhibition g > 0 and external drive eta = nu_ext / nu_thr (> 0; > 1 for
        ``external="mean"``).
    external : {"mean", "poisson"}
        The paper's Poisson input, or its mean as a constant drive.
    j : float
        EPSP J (mV), > 0.
    delay, t_ref, tau : float
        Delay D, refractory period and membrane time constant (s).
    epsilon, gamma : float
        Connection probability (C_E = epsilon N_E) and N_I / N_E.
    theta, v_reset : float
        Threshold and reset (mV), 0 <= v_reset < theta.
    **inputs
        ``stimulus``, ``noise_seed`` (and with ``external="mean"``, ``inputs``): external input
        as ``PopulationNetwork`` takes it, weights in the engine's units: mV / (theta -
        v_reset).
    """
    validate.choice("external", external, ("mean", "poisson"))
    if external == "poisson" and inputs.get("inputs"):
        raise ValueError("inputs: brunel(external='poisson') gives every population the "
                         "paper's Poisson input already; use external='mean' to add your own")
    n_e = validate.integer("n_e", n_e, 2, 2**31 - 1)
    gamma = validate.real("gamma (N_I / N_E)", gamma, 0.0, math.inf, low_open=True)
    n_i = int(round(gamma * n_e))
    if n_i < 2:
        raise ValueError(f"n_e: N_I = round(gamma n_e) = {n_i} with gamma = {gamma:g}; model A "
                         f"needs at least 2 inhibitory neurons (n_e >= {math.ceil(1.5 / gamma)})")
    epsilon = validate.real("epsilon (connection probability)", epsilon, 0.0, 1.0, low_open=True)
    g = validate.real("g (relative inhibition)", g, 0.0, math.inf, low_open=True)
    j = validate.real("j (EPSP, mV; the inhibitory coupling is -g j)", j, 0.0, math.inf,
                      low_open=True)
    theta = validate.real("theta (mV)", theta, 0.0, math.inf, low_open=True)
    v_reset = validate.real(f"v_reset (mV, below theta = {theta:g})", v_reset, 0.0, theta,
                            high_open=True)
    eta = validate.real("eta (nu_ext / nu_thr; with external='mean' the drive in units of "
                        "theta, and neurons fire without Poisson input only above 1)", eta,
                        1.0 if external == "mean" else 0.0, math.inf, low_open=True)
    tau = validate.real("tau (s)", tau, 0.0, math.inf, low_open=True)
    c_e, c_i = max(int(round(epsilon * n_e)), 1), max(int(round(epsilon * n_i)), 1)
    span = theta - v_reset
    if external == "poisson":            # at rest 0 mV, C_E sources of eta nu_thr each
        drive = -v_reset / span
        nu_ext = eta * theta / (j * c_e * tau)
        inputs["inputs"] = [PoissonInput(name, nu_ext, j / span, c_e) for name in ("E", "I")]
    else:
        drive = (eta * theta - v_reset) / span
    pops = [Population("E", n_e, drive, t_ref), Population("I", n_i, drive, t_ref)]
    projections = [Projection(s, t, (j if s == "E" else -g * j) / span, delay,
                              indegree=c_e if s == "E" else c_i)
                   for s in ("E", "I") for t in ("E", "I")]
    net = PopulationNetwork(LIF(tau=tau), pops, projections, seed=seed, ic_seed=ic_seed,
                            connectivity=connectivity, **inputs)
    net.parametrisation = {"name": "brunel", "n_e": n_e, "g": g, "eta": eta, "j": j,
                           "delay": delay, "t_ref": t_ref, "epsilon": epsilon, "gamma": gamma,
                           "tau": tau, "theta": theta, "v_reset": v_reset,
                           **({"external": external} if external == "poisson" else {})}
    return net


def balanced(model, n_e, n_i, k, *, j_ee=1.0, j_ie=1.0, j_ei=2.0, j_ii=1.8, ext_e=1.0,
             ext_i=0.8, nu=1.0, delay=0.0, t_ref=0.0, seed=0, ic_seed=None,
             connectivity="auto", **inputs):
    """The balanced E/I network of van Vreeswijk and Sompolinsky (1996, 1998): every neuron has
    K excitatory and K inhibitory inputs (fixed in-degree), couplings J_ab = +-j_ab / sqrt(K)
    (excitatory from E, inhibitory from I) and external drives sqrt(K) ext_a tau nu (+1
    for LIF), so that excitation and inhibition of order sqrt(K) cancel.

    ``j_ab`` are magnitudes, the coupling from population b onto a (the papers' order: j_ei is
    I onto E), > 0; the balanced state needs ext_e / ext_i > j_ei / j_ii > j_ee / j_ie.

    Parameters
    ----------
    model : NeuronModel
        LIF or QIF.
    n_e, n_i, k : int
        Population sizes and in-degree K from each population (K < N_I, K < N_E: no
        autapses).
    nu : float
        The rate scale (Hz) of the external drive.
    delay, t_ref : float
        One delay (s) for every block, and the refractory period (s).
    **inputs
        ``inputs``, ``stimulus``, ``noise_seed``: external input as ``PopulationNetwork``
        takes it.
    """
    magnitudes = {"j_ee": j_ee, "j_ie": j_ie, "j_ei": j_ei, "j_ii": j_ii, "ext_e": ext_e,
                  "ext_i": ext_i}
    for name, value in magnitudes.items():
        magnitudes[name] = validate.real(f"{name} (a magnitude: the parametrisation fixes the "
                                         "sign)", value, 0.0, math.inf, low_open=True)
    m = magnitudes
    if not m["ext_e"] / m["ext_i"] > m["j_ei"] / m["j_ii"] > m["j_ee"] / m["j_ie"]:
        raise ValueError(f"the balanced state needs ext_e / ext_i > j_ei / j_ii > j_ee / j_ie; "
                         f"got {m['ext_e'] / m['ext_i']:.4g}, {m['j_ei'] / m['j_ii']:.4g}, "
                         f"{m['j_ee'] / m['j_ie']:.4g}")
    k = validate.integer("k", k, 1, 2**31 - 1)
    nu = validate.real("nu (Hz)", nu, 0.0, math.inf, low_open=True)
    if not isinstance(model, NeuronModel):
        raise ValueError(f"model must be sp.LIF(...) or sp.QIF(...); got {model!r}")
    root = math.sqrt(k)
    drives = {a: model.balanced_drive(k, m[f"ext_{a}"], nu) for a in ("e", "i")}
    pops = [Population("E", n_e, drives["e"], t_ref), Population("I", n_i, drives["i"], t_ref)]
    projections = [Projection(s, t, (1.0 if s == "E" else -1.0)
                              * m[f"j_{t.lower()}{s.lower()}"] / root, delay, indegree=k)
                   for s in ("E", "I") for t in ("E", "I")]
    net = PopulationNetwork(model, pops, projections, seed=seed, ic_seed=ic_seed,
                            connectivity=connectivity, **inputs)
    net.parametrisation = {"name": "balanced", "n_e": n_e, "n_i": n_i, "k": k, **m,
                           "nu": nu, "delay": delay, "t_ref": t_ref}
    return net
