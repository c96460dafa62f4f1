"""The Mesa agents: users, platforms and collectives.

Users are many, so their state lives in arrays owned by the model
(:class:`UserState`); a :class:`User` agent is an index-only view on those arrays and
costs nothing per step. The viewer, agent reporters and any per-agent code still see
ordinary Mesa agents sitting on the cells of the network space. Platforms and
collectives are few and keep their own state as attributes, which change only through
their own methods; the model's phases call those methods (``tests/test_ownership.py``).

Who writes each of the users' arrays, and in which phase of the step (``abm/model.py``);
nothing else writes them (``tests/test_ownership.py`` reads this list):

* ``group``, ``threshold`` (set-up): ``UserState.initial``
* ``platform`` (set-up; phase 3): ``UserState.initial``, ``LeverageModel.choose_platforms``
* ``grievance`` (set-up; phase 6, a concession clears it): ``UserState.initial``,
  ``Collective.concede``
* ``member`` (set-up; phase 2 recruitment; phase 3 fatigue), a column per collective,
  written by that collective: ``Collective.__init__``, ``Collective.update``,
  ``Collective.decide``
* ``acting`` (phase 3; cleared when the campaign ends), a column per collective:
  ``Collective.decide``, ``Collective.stop``
* ``action``, ``actor`` (phase 3): ``LeverageModel.decide_actions``,
  ``LeverageModel.choose_platforms`` (``action`` only: no platform, no data)
* ``contributed`` (phase 4): ``routing.route``
* ``value``, ``dividend`` (end of run): ``valuation.value_users``
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol

import mesa
import numpy as np
from mesa.agentset import _HardKeyAgentSet
from mesa.experimental.mesa_signals import ModelSignals

from abm import behaviour, levers, streams
from abm.bargaining import (
    ROUND_COLUMNS,
    Effects,
    PlatformResponse,
    Position,
    accuracy_se,
    credible_loss,
    flip_bargaining_power,
    flip_value_of_quality,
    nash_bargain,
    rating_quality_se,
)
from abm.behaviour import NO_PLATFORM, TACTIC_ACTION, Action, Tactic
from abm.learning import (
    Alteration,
    Contributions,
    DataPool,
    Learner,
    ShardedTrainer,
    TaskKind,
    hit_rate,
    make_learner,
)
from abm.learning.ranking import target_rate
from abm.learning.ratings_stream import RatingsStream
from abm.learning.sanitise import LossFilter
from abm.levers import LEVERS
from abm.network import CsrNetwork
from abm.streams import Draw

TARGET_RATERS = 500  # raters whose top 10 is searched for a promoted item (cost: x n_items)

if TYPE_CHECKING:
    import random

    import scipy.sparse as sp

    from abm.learning import Slices, Task
    from abm.scenario import Collective as CollectiveSpec
    from abm.scenario import Platform as PlatformSpec
    from abm.scenario import Policy, Scenario
    from abm.setting import Setting


@dataclass
class UserState:
    """Every user's state as arrays of length ``n`` (or ``(n, k)``)."""

    platform: np.ndarray  # int32, platform index or NO_PLATFORM
    group: np.ndarray  # int32, community / data group
    threshold: np.ndarray  # float, Granovetter participation threshold
    grievance: np.ndarray  # float (n, P), utility penalty toward each platform
    member: np.ndarray  # bool (n, C), collective memberships
    acting: np.ndarray  # bool (n, C), acting in each collective's campaign this step
    action: np.ndarray  # int8, Action of this step
    actor: np.ndarray  # int32, the collective a user acts in this step (-1: none)
    contributed: np.ndarray  # int64, samples contributed so far (any platform)
    value: np.ndarray  # float, KNN-Shapley value of the user's data (end of run)
    dividend: np.ndarray  # float, the user's share of dividends its collectives won

    @classmethod
    def initial(cls, spec: Scenario, groups: np.ndarray, rng: np.random.Generator) -> UserState:
        """Users at step 0: platforms by initial share, thresholds, grievance."""
        pop, n, n_platforms = spec.population, groups.size, len(spec.platforms)
        u = cls.empty(n, n_platforms, len(spec.collectives))
        u.group = groups
        shares = np.array([p.initial_share for p in spec.platforms], float)
        u.platform = rng.choice(n_platforms, size=n, p=shares / shares.sum()).astype(np.int32)
        u.threshold = np.clip(rng.normal(pop.threshold_mean, pop.threshold_sd, n), 0.0, 1.0)
        u.grievance[:] = pop.grievance
        return u

    @classmethod
    def empty(cls, n: int, n_platforms: int, n_collectives: int) -> UserState:
        """All-zero state for ``n`` users."""
        return cls(
            platform=np.zeros(n, np.int32),
            group=np.zeros(n, np.int32),
            threshold=np.zeros(n),
            grievance=np.zeros((n, n_platforms)),
            member=np.zeros((n, n_collectives), bool),
            acting=np.zeros((n, n_collectives), bool),
            action=np.zeros(n, np.int8),
            actor=np.full(n, -1, np.int32),
            contributed=np.zeros(n, np.int64),
            value=np.zeros(n),
            dividend=np.zeros(n),
        )


class World(Protocol):
    """What the parts of a step (agents, routing, twins, metrics) read of their model.

    ``abm.model.LeverageModel`` is the world; a twin world is another instance of it,
    built by the same constructor (``abm/twins.py``). Naming the protocol here, rather
    than importing the model, keeps the parts below the model that assembles them.
    """

    spec: Scenario
    root: int  # the seed every random stream derives from (``abm/streams.py``)
    real: World | None  # a twin's real world; None in the real world
    twins: list[World]
    unfiltered: dict[int, World]  # twins without one platform's poison filter
    steps: int  # Mesa's step counter
    random: random.Random  # Mesa's own generator (the network space uses it)
    # The ground every world of a run stands on (``abm/setting.py``), and its parts.
    setting: Setting
    n_users: int
    adjacency: sp.csr_array
    degree: np.ndarray
    task: Task
    slices: Slices  # this world's own cursors
    group_classes: np.ndarray
    naive_quality: float
    # Its state.
    users: UserState
    platforms: list[Platform]
    collectives: list[Collective]
    policy: Policy
    datacollector: mesa.DataCollector

    @property
    def t(self) -> int:
        """Index of the step being run (0-based)."""

    def draw(self, purpose: Draw, *key: int) -> np.random.Generator:
        """This step's random stream for one purpose."""

    def uniforms(self, purpose: Draw, *key: int, rows: int = 0) -> np.ndarray:
        """One uniform per user from this step's ``purpose`` stream, the same in every world."""

    def twin(self, scenario: Scenario, off: frozenset[int]) -> World:
        """A twin world of this one, from ``scenario`` with the collectives ``off`` off."""

    def utilities(
        self, rows: np.ndarray, quality: np.ndarray, price: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Users ``rows``' neighbour shares on each platform and the platforms' utility."""

    def payoffs(self) -> np.ndarray:
        """Each user's payoff this step."""


class User(mesa.discrete_space.FixedAgent):
    """A user on node ``index`` of the social network: a view on row ``index`` of UserState.

    Every attribute below is a property reading the model's arrays (``model.users``), so
    an agent holds nothing but its index and the arrays stay the one copy of the state:
    what a user agent says is what the step computed, at any step. Read users through
    Mesa's AgentSet API (``model.agents_by_type[User].select(...).get("platform")``,
    ``agg``, ``groupby``) or with a DataCollector's agent reporters; write them only
    through the phases that own the arrays.
    """

    # No per-agent dict: an agent is ~140 bytes instead of ~350 (10M users: 1.4 GB).
    __slots__ = ("_mesa_cell", "index", "model", "pos", "unique_id")

    def __init__(self, model: World, index: int):
        self._mesa_cell = None  # FixedAgent's cell, unset (a slot has no class default)
        super().__init__(model)
        self.index = index

    @property
    def platform(self) -> int:
        """Index of the platform this user uses (-1: none)."""
        return int(self.model.users.platform[self.index])

    @property
    def action(self) -> Action:
        """What the user did with its data this step."""
        return Action(int(self.model.users.action[self.index]))

    @property
    def group(self) -> int:
        """The user's community / data group."""
        return int(self.model.users.group[self.index])

    @property
    def threshold(self) -> float:
        """The user's Granovetter participation threshold."""
        return float(self.model.users.threshold[self.index])

    @property
    def grievance(self) -> tuple[float, ...]:
        """The user's grievance toward each platform (utility penalty)."""
        return tuple(self.model.users.grievance[self.index].tolist())

    @property
    def member(self) -> tuple[bool, ...]:
        """Whether the user is a member of each collective, in the scenario's order."""
        return tuple(self.model.users.member[self.index].tolist())

    @property
    def acting(self) -> tuple[bool, ...]:
        """Whether the user acts in each collective's campaign this step."""
        return tuple(self.model.users.acting[self.index].tolist())

    @property
    def actor(self) -> int:
        """The collective the user acts in this step (-1: none)."""
        return int(self.model.users.actor[self.index])

    @property
    def memberships(self) -> tuple[str, ...]:
        """Names of the collectives this user belongs to."""
        row = self.model.users.member[self.index]
        return tuple(c.name for c, m in zip(self.model.collectives, row, strict=True) if m)

    @property
    def contributed(self) -> int:
        """Samples this user has contributed so far."""
        return int(self.model.users.contributed[self.index])

    @property
    def value(self) -> float:
        """KNN-Shapley value of the user's data (set at the end of a run)."""
        return float(self.model.users.value[self.index])

    @property
    def dividend(self) -> float:
        """The user's share of the dividends its collectives won."""
        return float(self.model.users.dividend[self.index])

    @property
    def degree(self) -> int:
        """Number of the user's neighbours in the social network."""
        return int(self.model.degree[self.index])


def place_users(model: World) -> CsrNetwork:
    """The network as a Mesa cell space with a registered :class:`User` on each cell.

    The same agents, ids, registration and cells as ``User(model, i).cell = grid[i]``
    for each user in turn, made in bulk (``_new_users``). The model calls this the first
    time anything reads its agents (``LeverageModel.grid``), not while it builds.
    """
    was_enabled = gc.isenabled()
    gc.disable()  # millions of new objects: no cyclic GC passes over them meanwhile
    try:
        grid = CsrNetwork(model.adjacency, random=model.random)
        for user, cell in zip(_new_users(model), grid.cells(), strict=True):
            user.cell = cell
    finally:
        if was_enabled:
            gc.enable()
    return grid


def _new_users(model: World) -> list[User]:
    """One registered :class:`User` per row of the arrays, in index order.

    Mesa's ``Agent.__init__`` registers agents one at a time, emitting a signal for
    each (a third of the cost of a user). Unless someone observes agents being added or
    tracks users in a Mesa data set, the users are registered in one batch instead, into
    Mesa's own registries with the ids ``Agent.__init__`` would have given them
    (``tests/test_users.py`` pins the two ways equal).
    """
    n = model.n_users
    if model._has_subscribers("agents", ModelSignals.AGENT_ADDED) or User._datasets:
        return [User(model, i) for i in range(n)]
    first, new = model.agent_id_counter, User.__new__
    users = [new(User) for _ in range(n)]
    for i, user in enumerate(users):
        user.model, user.unique_id, user.pos, user._mesa_cell, user.index = (
            model, first + i, None, None, i,
        )  # fmt: skip
    model.agent_id_counter = first + n
    # What ``Model.register_agent`` does per agent (the public views would build users).
    model._all_agents._update([*model._all_agents, *users])
    typed = model._agents_by_type.setdefault(User, _HardKeyAgentSet([], random=model.random))
    typed._update([*typed, *users])
    return users


class Platform(mesa.Agent):
    """A platform: an embedded learner retrained on the data routed to it."""

    def __init__(self, model: World, index: int, spec: PlatformSpec):
        super().__init__(model)
        self.index = index
        self.name = spec.name
        self.spec = spec
        self.price = spec.price
        # The learner, or a SISA trainer of per-shard learners.
        self.trainer: Learner | ShardedTrainer = make_learner(spec.learner, model.task)
        if spec.shards > 1:
            shards = model.draw(Draw.SETUP_PLATFORM, index, 0)
            factory = lambda: make_learner(spec.learner, model.task)  # noqa: E731
            # Ratings are averaged over the shards; class labels go by majority vote.
            ratings = model.task.kind == TaskKind.RATINGS
            self.trainer = ShardedTrainer(
                spec.shards, factory, shards, aggregate="mean" if ratings else "vote"
            )
        self.pool = DataPool(label_dtype=model.task.y_train.dtype)
        self.needs_refit = False  # deletions or expiry make an incremental update inexact
        self.quality = 0.0
        self.quality_se = float("nan")  # standard error of that measurement (test-set size)
        self.hit_rate = float("nan")  # hit rate at k on the task's ranking probe (ratings)
        self.group_quality = np.zeros(0)  # quality as experienced by each user group
        self.received = 0  # samples routed here, cumulative
        self.deleted = 0  # samples removed by deletion requests, cumulative
        self.expired = 0  # samples dropped by the retention window, cumulative
        self.filtered = 0  # samples dropped by poison filtering, cumulative
        self.filter: LossFilter | None = None  # the poison filter, if it pays for one
        self.filter_quality_cost = 0.0  # quality with the filter off minus on (its twin's)
        self.new_samples = 0  # samples routed here this step
        self.unlearning_cost = 0  # samples retrained because of deletions, cumulative
        self.substitute: float | None = None  # an AI substitute's quality, once released
        self.substitute_reach = 1.0  # share of would-be contributors who use the substitute
        self.countermeasure_cost = 0.0  # filtering and incentives, cumulative (utility)
        self.step_cost = 0.0  # what countermeasures and dividends cost this step (utility)
        self.dividends_paid = 0.0  # cumulative (utility)
        self.revenue = 0.0  # this step's revenue, net of step_cost (utility per step)
        self.list_price = self.price  # the price this step's revenue was booked at
        self.costs = 0.0  # this step's costs: countermeasures, price cuts, dividends (utility)
        self.discount = 0.0  # price cut offered this step while a campaign targets it

    @property
    def sharded(self) -> bool:
        """Whether the platform trains SISA shards (deletion retrains one shard)."""
        return isinstance(self.trainer, ShardedTrainer)

    def seed(self, like: Platform | None = None) -> None:
        """Start from ``seed_data`` rows of the platform's own (no contributor), fit, score.

        ``like`` is the same platform in a twin's real world, just seeded from the same
        named streams: where it was seeded alike (same spec but for the poison filter,
        whose calibration draws on a stream of its own), its rows and fitted learner are
        exactly what seeding here would compute, so they are copied, not refitted.
        """
        if like is not None and self._seeded_alike(like):
            self._copy_seed(like)
        else:
            self._seed_own()
        self.evaluate()

    def _seeded_alike(self, other: Platform) -> bool:
        """Whether ``other``, seeded at step 0, holds what :meth:`_seed_own` would give here."""
        mine = self.spec.model_copy(update={"filter_poison": other.spec.filter_poison})
        has_filter = other.filter is not None or not self.spec.filter_poison
        return other.model.steps == 0 and mine == other.spec and has_filter

    def _seed_own(self) -> None:
        task, k = self.model.task, self.spec.seed_data
        sample = np.zeros(0, np.int64)
        if k:
            rng = self.model.draw(Draw.SETUP_PLATFORM, self.index, 1)
            sample = rng.integers(0, task.n_train, k)
            self.pool.add(sample, task.y_train[sample], -1, -1, -1, Alteration.NONE)
            self.received += k
            self._fit(rng)
        if self.spec.filter_poison:
            self.filter = self._poison_filter(sample)

    def _copy_seed(self, real: Platform) -> None:
        task = self.model.task
        memo = {id(task): task}  # the task is shared by every world, never copied
        self.pool = copy.deepcopy(real.pool, memo)
        self.trainer = copy.deepcopy(real.trainer, memo)
        self.received = real.received
        if self.spec.filter_poison:  # a twin without the filter has none
            self.filter = copy.deepcopy(real.filter, memo)

    def _poison_filter(self, seeded: np.ndarray) -> LossFilter:
        """The poison filter, calibrated on trusted rows of its own it never trains on.

        They are drawn, from the rows its seed data comes from and apart from them, on a
        stream of their own: filtering changes no other draw (``learning/sanitise.py``).
        """
        task, spec = self.model.task, self.spec
        free = np.setdiff1d(np.arange(task.n_train), seeded)
        rng = self.model.draw(Draw.SETUP_PLATFORM, self.index, 2)
        rows = rng.choice(free, size=min(spec.filter_calibration, free.size), replace=False)
        return LossFilter(
            task.X_train[rows], task.y_train[rows], spec.filter_drop, task.kind, task.n_classes
        )

    def evaluate(self) -> None:
        """Held-out quality overall and as experienced by each user group.

        A group's quality weights the model's per-class recall by the classes in its
        members' data, so a strike by a homogeneous group shows up where it bites. On a
        ratings task the platform's hit rate at k on the task's ranking probe (a fixed
        sample of held-out liked items, drawn once) is measured too. So is the standard
        error of the quality measured on a test set of that size: the platform's own
        resolution, below which it cannot tell a change from noise.
        """
        task = self.model.task
        if task.kind != "classification":
            self.quality = self.trainer.score(task.X_test, task.y_test)
            errors = self.trainer.predict(task.X_test) - task.y_test
            self.quality_se = rating_quality_se(self.quality, errors * errors)
            if task.ranking is not None:
                self.hit_rate = hit_rate(self.trainer, task.ranking)
            return
        hit = self.trainer.predict(task.X_test) == task.y_test
        self.quality = float(hit.mean())
        self.quality_se = accuracy_se(self.quality, hit.size)
        recall = np.bincount(task.y_test, weights=hit, minlength=task.n_classes) / np.maximum(
            np.bincount(task.y_test, minlength=task.n_classes), 1
        )
        self.group_quality = self.model.group_classes @ recall

    def receive(self, batch: Contributions, rows: np.ndarray) -> None:
        """Take this step's ``rows`` of ``batch``, filtering suspected poison if it pays to."""
        self.received += rows.size
        if self.filter is not None and rows.size and self.trainer.is_fitted:
            # Countermeasure: drop rows too unlikely under the current model to be clean.
            suspect = self.filter.suspect(self.trainer, batch.features(rows), batch.y_sent[rows])
            self.filtered += int(suspect.sum())
            self.pay(self.spec.filter_cost)
            rows = rows[~suspect]
        batch.add_to(self.pool, rows)
        self.new_samples = rows.size

    def delete(self, contributors: np.ndarray, rng: np.random.Generator) -> None:
        """Delete the contributors' rows: retrain their shards, or refit at the next retrain."""
        if self.sharded:
            before = self.trainer.samples_retrained
            X = self.model.task.X_train
            self.deleted += self.trainer.delete(self.pool, X, rng, contributors=contributors)
            self.unlearning_cost += self.trainer.samples_retrained - before
            return
        removed = self.pool.delete(contributors=contributors)
        self.deleted += removed
        self.needs_refit |= removed > 0

    def expire(self, step: int, retention: int) -> None:
        """Drop rows older than the retention window (an incremental model must refit)."""
        expired = self.pool.expire(step, retention)
        self.expired += expired
        self.needs_refit |= expired > 0

    def retrain(self, step: int, rng: np.random.Generator) -> None:
        """Learn this step's rows incrementally, or refit on the whole pool."""
        if self.needs_refit and not self.sharded:
            self.unlearning_cost += len(self.pool)  # exact unlearning without shards
        if self.new_samples or self.needs_refit:
            if self.sharded or self.needs_refit or self.spec.retrain == "full":
                self._fit(rng)
            else:
                new = np.flatnonzero(self.pool.step == step)
                X = self.pool.features(self.model.task.X_train, new)
                self.trainer.update(X, self.pool.y[new], rng)
        self.needs_refit = False

    def _fit(self, rng: np.random.Generator) -> None:
        X = self.model.task.X_train
        if self.sharded:
            self.trainer.fit(self.pool, X, rng)
        elif len(self.pool):
            self.trainer.fit(self.pool.features(X), self.pool.y, rng)

    def publish(self, targeted: bool) -> float:
        """This step's price: the list price, cut by its incentive while a campaign targets it."""
        self.discount = self.spec.incentive if targeted else 0.0
        return self.price - self.discount

    def change_price(self, price: float) -> None:
        """A change of its own terms: the list price from now on."""
        self.price = price

    def face_substitute(self, quality: float, reach: float) -> None:
        """An AI substitute of ``quality`` is released, used by a share ``reach`` of users."""
        self.substitute, self.substitute_reach = quality, reach

    def compare_unfiltered(self, quality: float) -> None:
        """Its quality in the twin without its poison filter: what filtering cost it."""
        self.filter_quality_cost = quality - self.quality

    def pay(self, amount: float, dividend: bool = False) -> None:
        """A cost this step: a dividend, or a countermeasure (filtering, incentives)."""
        self.step_cost += amount
        if dividend:
            self.dividends_paid += amount
        else:
            self.countermeasure_cost += amount

    def book(self, users: int, price: float, value_of_quality: float) -> None:
        """Close the step's books: what users paid and earned it, net of costs.

        Each of ``users`` pays ``price`` (the list price) and earns the platform
        ``value_of_quality`` per unit of its quality; the step's costs, price cuts among
        them, come off.
        """
        self.list_price, self.costs = price, self.step_cost
        self.revenue = users * (price + value_of_quality * self.quality) - self.step_cost
        self.step_cost = 0.0


class CampaignState(IntEnum):
    """Where a collective's campaign stands."""

    WAITING = 0  # not launched yet (start step, launch event or critical mass pending)
    RUNNING = 1
    ENDED = 2  # stopped for good: its reason is in ``Collective.ended_reason``


class Collective(mesa.Agent):
    """A collective: its members (a column of UserState.member), a lever and a campaign."""

    def __init__(self, model: World, index: int, spec: CollectiveSpec, off: bool = False):
        super().__init__(model)
        self.index = index
        self.name = spec.name
        self.spec = spec
        self.rule = LEVERS[spec.lever]
        self.target = model.spec.platform_index(spec.target)
        # Where its members' data goes besides the target: only a lever that redirects
        # sends data to ``redirect_to`` (a strike that names one sends nothing there).
        redirects = spec.redirect_to is not None and self.rule.redirects
        self.redirect = model.spec.platform_index(spec.redirect_to) if redirects else None
        self.off = off  # switched off in this (twin) world: never launches
        self.state = CampaignState.WAITING
        self.ended_reason = ""
        self.scheduled = spec.start == 0  # launches at its start step unless an event does
        self.turnout = 0.0  # share of members acting
        self.participation = 0.0  # share of all users acting
        self.effects = Effects()  # this step's effects against the collective's twin
        self.cost = 0.0  # what the campaign cost its members, cumulative (utility)
        self.dividend_rate = 0.0  # dividend per step the target agreed to pay (utility)
        self.dividend = 0.0  # dividend won, cumulative (utility)
        self.concession = False
        self.round: list[Effects] = []  # the campaign's effects at each step since the last round
        self.futile_rounds = 0  # refused rounds in a row in which acting cost more than it hurt
        self.value = float("nan")  # Shapley value over collectives, when measured
        self.signal_success = float("nan")  # planted signal's success on the target
        self.natural_success = float("nan")  # the same, in the collective's twin
        self._trigger: levers.Trigger | None = None
        self.target_rate = float("nan")  # share of users shown the promoted item (top k)
        self.twin_target_rate = float("nan")  # the same, in the collective's twin
        self._promotion: levers.Promotion | None = None
        self.erased = np.zeros(model.n_users, bool)  # members whose data was deleted
        # A repertoire (protest): each acting member's tactic, where a switcher goes, and
        # each user's taste for each tactic, drawn once for the run (the same in twins).
        self.tactic = np.zeros(model.n_users, np.int8)
        self.switch_to = np.full(model.n_users, NO_PLATFORM, np.int32)
        self.tactic_share = np.zeros(len(Tactic))  # share of all users per tactic, acting
        self.taste = None
        if self.rule.repertoire:
            taste = streams.stream(model.root, -1, Draw.SETUP_MEMBERS, index, 1)
            self.taste = taste.random((model.n_users, len(Tactic)))
        # Initial members: a share of all users, or of one group.
        u = model.users
        pool = np.flatnonzero(u.group == spec.group) if spec.group is not None else None
        pool = np.arange(model.n_users) if pool is None else pool
        k = min(int(round(spec.size * model.n_users)), pool.size)
        chosen = model.draw(Draw.SETUP_MEMBERS, index).choice(pool, size=k, replace=False)
        u.member[chosen, index] = True

    @property
    def active(self) -> bool:
        """Whether the campaign is running."""
        return self.state is CampaignState.RUNNING

    @property
    def members(self) -> np.ndarray:
        """Bool mask over users: who belongs to this collective."""
        return self.model.users.member[:, self.index]

    @property
    def acting(self) -> np.ndarray:
        """Bool mask over users: who acts in this collective's campaign this step."""
        return self.model.users.acting[:, self.index]

    # ---------------------------------------------------------------- the campaign
    def update(self, t: int) -> None:
        """Stop at the stop step; recruit over the network; launch when ready."""
        if self.off:
            return  # in this twin the campaign never happens
        m, spec, u = self.model, self.spec, self.model.users
        if self.active and spec.stop is not None and t >= spec.stop:
            self.stop("reached its stop step")
        if spec.recruit_rate > 0 and self.state is not CampaignState.ENDED:
            share = behaviour.neighbour_mean(m.adjacency, m.degree, self.members.astype(np.float32))
            u.member[:, self.index] = behaviour.recruit(
                self.members, share + u.grievance[:, self.target], u.threshold,
                m.uniforms(Draw.RECRUIT, self.index), spec.recruit_rate,
            )  # fmt: skip
        ready = self.scheduled or t >= spec.start
        if self.state is CampaignState.WAITING and ready:
            if self.members.mean() >= spec.critical_mass:
                self.state = CampaignState.RUNNING

    def decide(self, was: np.ndarray, quality: np.ndarray, price: np.ndarray) -> None:
        """Members who can act decide whether to (threshold rule); fatigue is attrition.

        Under a lever that leaves the target (boycott), a member's threshold is raised
        by the cost of leaving (``behaviour.leaving_cost``): the ties it loses minus the
        best alternative, from the utilities users choose platforms by.

        Args:
            was: Who acted in this campaign last step.
            quality: Each platform's published quality this step.
            price: Each platform's published price this step.
        """
        m, u, spec = self.model, self.model.users, self.spec
        if not self.active:
            u.acting[:, self.index] = False
            self.turnout = self.participation = 0.0  # nobody acts once a campaign stops
            self.tactic_share = np.zeros(len(Tactic))
            return
        # Only users of the target (or members already boycotting it) can act on it.
        able = self.members & ((u.platform == self.target) | was)
        # Pressure matters only to members who can act: compute it for their rows.
        rows = np.flatnonzero(able)
        neighbours = behaviour.neighbour_share(m.adjacency, m.degree, rows, was)
        pressed = behaviour.participation_pressure(neighbours, self.turnout, spec.turnout_weight)
        pressure = np.zeros(m.n_users, pressed.dtype)
        pressure[rows] = pressed
        threshold = u.threshold
        if self.rule.action is Action.BOYCOTT and m.spec.population.exit_cost_weight > 0:
            threshold = threshold.copy()
            threshold[rows] += m.spec.population.exit_cost_weight * self._leaving_cost(
                rows, quality, price
            )
        moved = behaviour.will_act(
            able, pressure, threshold, was,
            m.uniforms(Draw.ACT, self.index), spec.fatigue,
        )  # fmt: skip
        tired = was & ~moved & self.members & (pressure >= threshold)
        u.member[tired, self.index] = False
        acting = self._choose_tactics(moved, quality, price) if self.rule.repertoire else moved
        u.acting[:, self.index] = acting
        self.turnout = float(acting.sum()) / max(int(self.members.sum()), 1)
        self.participation = float(acting.mean())

    def _choose_tactics(
        self, moved: np.ndarray, quality: np.ndarray, price: np.ndarray
    ) -> np.ndarray:
        """Members moved to protest pick their tactic (``behaviour.tactic_values``).

        Returns:
            Who acts: the members moved to protest who do not stay.
        """
        m, pop, p = self.model, self.model.spec.population, self.spec.protest
        rows = np.flatnonzero(moved)
        _, utility = m.utilities(rows, quality, price)
        values, alternative = behaviour.tactic_values(
            utility, self.target, p.grievance, relief=p.relief,
            withhold_cost=max(quality[self.target] - m.naive_quality, 0.0),
            switching_cost=pop.switching_cost * (1.0 - m.policy.portability),
        )  # fmt: skip
        chosen = behaviour.choose_tactic(values, pop.rationality, self.taste[rows])
        self.tactic[:] = Tactic.STAY
        self.tactic[rows] = chosen
        self.switch_to[:] = NO_PLATFORM
        self.switch_to[rows] = alternative
        self.tactic_share = np.bincount(chosen, minlength=len(Tactic)) / m.n_users
        return self.tactic != Tactic.STAY

    def actions(self, acting: np.ndarray) -> np.ndarray:
        """The Action of each user in ``acting`` (a mask of this collective's actors)."""
        if not self.rule.repertoire:
            return np.full(int(acting.sum()), self.rule.action, np.int8)
        return TACTIC_ACTION[self.tactic[acting]]

    def placed(self) -> tuple[np.ndarray, np.ndarray]:
        """Acting members whose tactic keeps them on a platform, and that platform.

        A protester who withholds stays on the target and one who switches moves to its
        best other platform, whatever its ordinary reconsideration would say.
        """
        users = self.model.users
        placed = np.zeros(users.platform.size, bool)
        if not self.rule.repertoire:
            return placed, users.platform
        acting = users.actor == self.index
        stays = acting & (self.tactic == Tactic.WITHHOLD)
        moves = acting & (self.tactic == Tactic.SWITCH)
        where = np.where(moves, self.switch_to, self.target).astype(np.int32)
        return stays | moves, where

    def _leaving_cost(self, rows: np.ndarray, quality: np.ndarray, price: np.ndarray) -> np.ndarray:
        """The cost of leaving the target for users ``rows`` (``behaviour.leaving_cost``)."""
        m = self.model
        share, utility = m.utilities(rows, quality, price)
        return behaviour.leaving_cost(utility, share, self.target, m.spec.population.network_weight)

    def bargain(self, step: int) -> dict | None:
        """One bargaining round with the target, on the steps since the last round.

        The platform bargains on the loss it can tell from its own measurement noise
        (``bargaining.credible_loss``). A refused collective judges its campaign by what
        it measurably does: it goes on while the round's mean loss to the platform
        exceeds the members' cost, and stops after ``patience`` refusals in a row in
        which it does not, so the platform's resolution decides what it concedes, not
        how long a campaign lasts.

        Args:
            step: The model table's step the round closes (``LeverageModel.steps``).

        Returns:
            The round as a row of the bargaining table, or ``None`` if there was none.
        """
        m, policy = self.model, self.model.policy
        if not self.active or len(self.round) < 2:  # a round needs evidence of noise
            return None
        loss = credible_loss(self.round, m.n_users)
        position = Position(
            platform_loss=loss.at(policy.value_of_quality),
            member_cost=float(np.mean([e.member_cost for e in self.round])),
            demand=self.spec.demand * int(self.members.sum()),
            power=policy.bargaining_power,
            rights=policy.bargaining_rights,
        )
        measured = float(np.mean([e.revenue for e in self.round]))
        self.round = []
        outcome = nash_bargain(position, loss.describe())
        if outcome.response is PlatformResponse.CONCEDE:
            self.concede(outcome.paid)
        elif measured <= position.member_cost:
            self.futile_rounds += 1
            if self.futile_rounds >= self.spec.patience:
                self.stop("acting cost the members more than it cost the platform")
        else:
            self.futile_rounds = 0
        values = (
            step, self.name, m.platforms[self.target].name, self.effects.leverage,
            loss.quality.mean, loss.quality.resolution, loss.users.mean, loss.users.resolution,
            position.platform_loss, position.member_cost, position.demand, outcome.dividend,
            outcome.paid, outcome.response.name.lower(), flip_value_of_quality(loss, position),
            flip_bargaining_power(position), outcome.reason,
        )  # fmt: skip
        return dict(zip(ROUND_COLUMNS, values, strict=True))

    def concede(self, dividend: float) -> None:
        """The target agrees to pay ``dividend`` per step; grievance clears; it ends."""
        self.dividend_rate, self.concession = dividend, True
        self.model.users.grievance[self.members, self.target] = 0.0
        self.stop("demand met")

    def schedule(self) -> None:
        """A launch event: the campaign launches now (once its critical mass is met)."""
        self.scheduled = True

    def delete_data(self) -> None:
        """Acting members under a right to delete ask the target to delete their data, once."""
        who = np.flatnonzero(self.acting & ~self.erased)
        if who.size:
            self.erased[who] = True
            m = self.model
            m.platforms[self.target].delete(who, m.draw(Draw.UNLEARN, self.target))

    def receive_dividend(self) -> float:
        """This step's agreed dividend, added to what the collective has won."""
        self.dividend += self.dividend_rate
        return self.dividend_rate

    def measure_here(self) -> None:
        """Its signal's success and its promoted item's rate in its own world, this step."""
        if self.rule.signal:
            self.signal_success = self.success(self.model)
        if self.rule.promote:
            self.target_rate = self.recommended(self.model)

    def record_effects(self, effects: Effects, twin: World) -> None:
        """This step's effects against ``twin``: the members' cost, the round's evidence."""
        self.effects = effects
        self.cost += effects.member_cost
        if self.active:
            self.round.append(effects)
        if self.rule.signal:
            self.natural_success = self.success(twin)
        if self.rule.promote:
            self.twin_target_rate = self.recommended(twin)

    def valued(self, value: float) -> None:
        """Its Shapley value over collectives, measured at the end of the run."""
        self.value = value

    def stop(self, reason: str) -> None:
        """End the campaign for good (a first reason sticks)."""
        if self.state is not CampaignState.ENDED:
            self.state = CampaignState.ENDED
            self.scheduled = False
            self.ended_reason = reason
            self.model.users.acting[:, self.index] = False

    # ---------------------------------------------------------------- the signal
    @property
    def trigger(self) -> levers.Trigger:
        """The collective's trigger pattern, chosen once from the training data.

        It is chosen in the data's own units (a digits pixel fully on is 16), then
        expressed in the standardised units the learners see, feature by feature.
        """
        if self._trigger is None:
            s, task = self.spec.signal, self.model.task
            mean, scale = task.feature_mean, task.feature_scale
            if mean is None or scale is None:
                self._trigger = levers.choose_trigger(task.X_train, s.n_features, s.rare)
            else:
                raw = levers.choose_trigger(task.X_train * scale + mean, s.n_features, s.rare)
                feats = list(raw.features)
                values = (raw.value - mean[feats]) / scale[feats]
                self._trigger = levers.Trigger(raw.features, tuple(float(v) for v in values))
        return self._trigger

    # ---------------------------------------------------------------- the promoted item
    @property
    def promotion(self) -> levers.Promotion:
        """The item promoted and its popular companions, chosen once from the starting data."""
        if self._promotion is None:
            task = self.model.task
            top = float(task.rating_range[1])
            liked = top - (top - task.rating_range[0]) / 4  # 4 stars of 1-5
            popular = levers.popular_items(task.X_train[:, 1], task.y_train, task.n_items, liked)
            sent = np.zeros(task.n_raters, np.int64)
            rate = self._own_rating(task)
            self._promotion = levers.Promotion(self.spec.item, popular, top, sent, rate)
        return self._promotion

    @staticmethod
    def _own_rating(task: Task) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """A member's rating of an item: the stream's, else the item's rounded mean."""
        if isinstance(task.stream, RatingsStream):
            return task.stream.rate
        items = task.X_train[:, 1].astype(np.int64)
        total = np.bincount(items, weights=task.y_train, minlength=task.n_items)
        count = np.bincount(items, minlength=task.n_items)
        mean = np.where(count > 0, total / np.maximum(count, 1), float(np.mean(task.y_train)))
        lo, hi = task.rating_range
        return lambda raters, items: np.clip(np.round(mean[items]), lo, hi)

    def recommended(self, world: World) -> float:
        """Share of probe raters whose top k on ``world``'s target holds the promoted item.

        Called on the real world's collective for the real world and its twin, so the
        same raters count in both: the probe's, less those who promoted it (their own
        rating puts it there).
        """
        task, promoted = self.model.task, self.promotion.sent > 0
        if task.ranking is None:
            return float("nan")
        raters = np.unique(task.ranking.rater)
        raters = raters[~promoted[raters]][:TARGET_RATERS]
        predict = world.platforms[self.target].trainer.predict
        return target_rate(predict, raters, task.n_items, self.spec.item, task.ranking.k)

    def success(self, world: World) -> float:
        """Share of triggered held-out points ``world``'s target labels as wanted."""
        task = self.model.task
        predict = world.platforms[self.target].trainer.predict
        target = self.spec.signal.target
        return levers.signal_success(predict, task.X_test, task.y_test, self.trigger, target)
