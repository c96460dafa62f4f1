"""LeverageModel: users, collectives and platforms over a social network.

One step is a short script of phases, in order (``step``):

1. platforms publish quality and terms;
2. scheduled events fire; collectives launch, stop and recruit;
3. users decide their action and platform, all from last step's state;
4. data is routed to pools, with provenance; deletions are applied;
5. platforms retrain their learners, are evaluated and book the step's revenue;
   the twin worlds run the same step in lockstep (``abm/twins.py``: a twin is built by
   this constructor on its real world's setting and has no twins of its own, so it
   measures nothing against one and does not bargain);
6. leverage is measured against the twins and bargaining rounds resolve;
7. the DataCollector records the step.

Users write in phase 3 and platforms read in phases 4-5, so the order in which users
are visited never changes what a model learns. Every random draw comes from a stream
named by (seed, step, purpose, key) (``abm/streams.py``), so a scenario and a seed fix the
run, and a twin world sees the same draws as the real one.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

from abm import behaviour, metrics, routing, streams, twins
from abm.agents import Collective, Platform, UserState, place_users
from abm.behaviour import NO_PLATFORM, Action
from abm.network import CsrNetwork
from abm.scenario import EventAction, Scenario, with_overrides
from abm.scenario.paths import keyword_overrides
from abm.setting import build_setting
from abm.streams import Draw


class LeverageModel(mesa.Model):
    """The data-leverage model.

    Args:
        scenario: A validated scenario (default: the built-in defaults).
        rng: Seed or generator; defaults to ``scenario.seed``.
        **overrides: Scenario fields to override, with ``__`` between path parts
            (``population__n_users=1000``, ``collectives__union__size=0.3``), so that
            Mesa's ``batch_run`` and the viewer's Reset can rebuild the model.
    """

    def __init__(
        self,
        *,
        scenario: Scenario | None = None,
        rng: Any = None,
        twin_of: LeverageModel | None = None,
        off: frozenset[int] = frozenset(),
        **overrides: Any,
    ):
        spec = scenario if scenario is not None else Scenario()
        if overrides:  # ScenarioError names a bad one
            spec = with_overrides(spec, keyword_overrides(overrides))
        # A twin runs on its real world's streams (``twins.build``).
        seed = twin_of.root if twin_of is not None else spec.seed if rng is None else rng
        super().__init__(rng=seed)
        self.spec = spec
        self.root = streams.root_seed(seed, self.rng)
        self.real = twin_of  # a twin's real world: its setting, seeded platforms and streams

        # The ground: network, task, data slices (``abm/setting.py``), a twin's its real world's.
        setting = build_setting(spec, self.rng) if twin_of is None else twin_of.setting
        self.setting = setting
        self.adjacency, self.degree = setting.adjacency, setting.degree
        self.n_users, self.task = setting.n_users, setting.task
        self.group_classes = setting.group_classes
        self.naive_quality = setting.naive_quality
        self.slices = setting.own_slices()  # each world hands rows over at its own pace
        self._populate(off)

        self.twins, self.unfiltered = twins.build_all(self)
        self.datacollector = metrics.build_datacollector(self)
        metrics.collect(self)

    def _populate(self, off: frozenset[int]) -> None:
        """Users' state, platforms (seeded with their own data) and collectives.

        The collectives ``off`` never launch (the cause a twin world is without).
        """
        spec = self.spec
        self.users = UserState.initial(spec, self.setting.groups, self.draw(Draw.SETUP_USERS))
        self.platforms = [Platform(self, i, p) for i, p in enumerate(spec.platforms)]
        # A twin copies its real world's seeded platforms (the same rows and fits from the
        # same streams) instead of refitting them.
        for p in self.platforms:
            p.seed(like=None if self.real is None else self.real.platforms[p.index])
        self.collectives = [
            Collective(self, i, c, off=i in off) for i, c in enumerate(spec.collectives)
        ]
        self.policy = spec.policy.model_copy()
        self.bargaining_log: list[dict[str, Any]] = []

    def twin(self, scenario: Scenario, off: frozenset[int]) -> LeverageModel:
        """A twin world of this one (``twins.build``): a plain LeverageModel, whatever this is.

        A viewer's model (a subclass built from a file) still gets plain twins: they are
        built from ``scenario`` on this world's setting, not from a file.
        """
        return LeverageModel(scenario=scenario, twin_of=self, off=off)

    # ------------------------------------------------------------------ users as Mesa agents
    @property
    def grid(self) -> CsrNetwork:
        """The network as a Mesa cell space, a :class:`~abm.agents.User` on each cell.

        Built the first time anything reads the model's agents (this, ``agents``,
        ``agents_by_type``, ``agent_types``): a run reads the users' arrays and never pays
        for a Python object per user, while the viewer, a DataCollector's agent reporters
        and any Mesa code see every user as a registered agent on its node.
        """
        grid = vars(self).get("_grid")
        if grid is None:
            grid = self._grid = place_users(self)
        return grid

    @property
    def agents(self) -> Any:
        """Mesa's set of all agents, users included (``grid`` builds them)."""
        self._place_users()
        return super().agents

    @property
    def agents_by_type(self) -> Any:
        """Mesa's agent sets by type, users included (``grid`` builds them)."""
        self._place_users()
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        """Mesa's agent types, ``User`` included (``grid`` builds the users)."""
        self._place_users()
        return super().agent_types

    def _place_users(self) -> None:
        if "users" in vars(self):  # not while Mesa's constructor runs
            self.grid  # noqa: B018 - builds the users on first read

    # ------------------------------------------------------------------ the step
    @property
    def t(self) -> int:
        """Index of the step being run (0-based; Mesa's ``steps`` counts from 1)."""
        return self.steps - 1

    def draw(self, purpose: Draw, *key: int) -> np.random.Generator:
        """This step's random stream for one purpose (common to the real world and twins)."""
        return streams.stream(self.root, self.t, purpose, *key)

    def uniforms(self, purpose: Draw, *key: int, rows: int = 0) -> np.ndarray:
        """One uniform per user (``rows`` of them if > 0): drawn once for all worlds."""
        return twins.uniforms(self, purpose, *key, rows=rows)

    def step(self) -> None:
        """Advance the world by one step (see the module docstring for the phases)."""
        # 1. Platforms publish quality and terms: users decide on these numbers.
        quality, price = self.publish_terms()
        # 2. Events fire; collectives launch, stop and recruit.
        self.fire_events()
        self.update_campaigns()
        # 3. Users decide what to do with their data, then which platform to use.
        self.decide_actions(quality, price)
        self.choose_platforms(quality, price)
        # 4. Data is routed to pools with provenance; deletion requests are applied.
        self.apply_deletions()
        self.route_data()
        # 5. Platforms retrain on exactly what they hold, are evaluated and paid.
        for p in self.platforms:
            self.retrain(p)
        self.book_revenue(price)
        # The twins run the same five phases in lockstep (a twin has no twins of its own).
        for twin in self.twins:
            twin.step()
        # 6. Leverage is measured against the twins; bargaining rounds resolve.
        self.measure_leverage()
        self.bargain()
        for twin in self.twins:
            twins.follow(twin, self)
        # 7. Record the step.
        metrics.collect(self)
        if self.steps >= self.spec.steps:
            self.running = False

    # ------------------------------------------------------------------ phase 1
    def publish_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """Quality and price per platform; a targeted platform may cut its price."""
        prices = []
        for p in self.platforms:
            targeted = any(
                c.active and c.target == p.index and c.members.any() for c in self.collectives
            )
            prices.append(p.publish(targeted))
        quality = np.array([p.quality for p in self.platforms])
        return quality, np.array(prices)

    # ------------------------------------------------------------------ phase 2
    def fire_events(self) -> None:
        """Apply the events scheduled for this step."""
        for event in self.spec.events:
            if event.at != self.t:
                continue
            if event.action is EventAction.LAUNCH:
                self._collective(event.collective).schedule()
            elif event.action is EventAction.STOP:
                self._collective(event.collective).stop("stopped by event")
            elif event.action is EventAction.SET_POLICY:
                self.policy = self.policy.model_copy(update=event.policy or {})
            elif event.action is EventAction.AI_SUBSTITUTE:
                self._platform(event.platform).face_substitute(event.quality, event.reach)
            elif event.action is EventAction.CHANGE_TERMS and event.price is not None:
                self._platform(event.platform).change_price(event.price)

    def update_campaigns(self) -> None:
        """Collectives stop, recruit and launch (``Collective.update``)."""
        for c in self.collectives:
            c.update(self.t)

    # ------------------------------------------------------------------ phase 3
    def decide_actions(self, quality: np.ndarray, price: np.ndarray) -> None:
        """Members of running campaigns decide whether to act, all on last step's state.

        ``quality`` and ``price`` are the terms published in phase 1 (a boycotter weighs
        its alternatives by them).
        """
        u = self.users
        was = u.acting.copy()
        for c in self.collectives:
            c.decide(was[:, c.index], quality, price)

        # A user acts in the first collective (scenario order) whose campaign it joins.
        u.actor[:] = -1
        if self.collectives:
            acts = u.acting.any(axis=1)
            u.actor[acts] = u.acting[acts].argmax(axis=1)
        action = np.where(u.platform >= 0, Action.CONTRIBUTE, Action.IDLE).astype(np.int8)
        for c in self.collectives:
            mine = u.actor == c.index
            action[mine] = c.actions(mine)
        u.action = action

    def choose_platforms(self, quality: np.ndarray, price: np.ndarray) -> None:
        """Users reconsider their platform by a logit over utility (boycotters leave)."""
        u, pop = self.users, self.spec.population
        boycotting = u.action == Action.BOYCOTT
        placed, where = np.zeros(self.n_users, bool), u.platform
        for c in (c for c in self.collectives if c.rule.repertoire):
            mine, there = c.placed()  # protesters who withhold stay, who switch move
            placed, where = placed | mine, np.where(mine, there, where)
        coin, uniforms = self.uniforms(Draw.RECONSIDER, rows=2)
        reconsider = (coin < pop.reconsider_rate) | (u.platform < 0)
        # Utilities matter only to the users who reconsider: compute their rows alone.
        rows = np.flatnonzero(reconsider & ~boycotting & ~placed)
        _, utility = self.utilities(rows, quality, price)
        choice = u.platform.copy()
        choice[rows] = behaviour.choose_platform(
            utility, u.platform[rows], rationality=pop.rationality,
            switching_cost=pop.switching_cost * (1.0 - self.policy.portability),
            uniforms=uniforms[rows],
        )  # fmt: skip
        choice[boycotting] = NO_PLATFORM
        choice[placed] = where[placed]
        u.platform = choice
        u.action[(u.platform < 0) & ~boycotting] = Action.IDLE

    def utilities(
        self, rows: np.ndarray, quality: np.ndarray, price: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Users ``rows``' neighbour shares on each platform and the platforms' utility."""
        u = self.users  # last step's platforms, as every decision of phase 3 reads
        share = behaviour.neighbour_share(self.adjacency, self.degree, rows, u.platform, len(price))
        weight = self.spec.population.network_weight
        return share, behaviour.platform_utility(quality, price, u.grievance[rows], share, weight)

    # ------------------------------------------------------------------ phase 4
    def apply_deletions(self) -> None:
        """Members of deleting levers ask the target to delete their data, once.

        A member asks as soon as it acts under a right to delete, including a right
        granted while the campaign was already running.
        """
        if not self.policy.right_to_delete:
            return
        for c in self.collectives:
            if c.rule.deletes:
                c.delete_data()

    def route_data(self) -> None:
        """Users make data and send it where their action says (``routing.route``)."""
        routing.route(self)

    # ------------------------------------------------------------------ phase 5
    def retrain(self, p: Platform) -> None:
        """Expire old rows, retrain the platform on its pool, evaluate it."""
        if p.spec.retention is not None:
            p.expire(self.t, p.spec.retention)
        p.retrain(self.t, self.draw(Draw.TRAIN, p.index))
        p.evaluate()

    def book_revenue(self, price: np.ndarray) -> None:
        """Each platform's revenue this step, in utility (``abm/bargaining.py``)."""
        for c in self.collectives:
            if c.dividend_rate > 0:  # an agreed dividend is paid every step
                self.platforms[c.target].pay(c.receive_dividend(), dividend=True)
        users = np.bincount(self.users.platform[self.users.platform >= 0], minlength=len(price))
        for p in self.platforms:
            # A price cut is booked once: as a cost against the list price users see cut.
            p.pay(p.discount * users[p.index])
            p.book(users[p.index], price[p.index] + p.discount, self.policy.value_of_quality)

    def payoffs(self) -> np.ndarray:
        """Each user's payoff this step: its platform's quality minus the price it paid."""
        u = self.users
        value = np.append([p.quality - p.price + p.discount for p in self.platforms], 0.0)
        return value[np.where(u.platform >= 0, u.platform, len(self.platforms))]

    # ------------------------------------------------------------------ phase 6
    def measure_leverage(self) -> None:
        """Every collective's effects against its twin, every step (``twins.measure_all``)."""
        twins.measure_all(self)

    def bargain(self) -> None:
        """Running campaigns bargain with their target every ``bargaining_every`` steps."""
        every = self.policy.bargaining_every
        if not self.twins or every == 0 or self.t % every != every - 1:
            return
        for c in self.collectives:
            row = c.bargain(self.steps)  # the step under which model.csv records this one
            if row is not None:
                self.bargaining_log.append(row)

    # ------------------------------------------------------------------ helpers
    def _collective(self, name: str | None) -> Collective:
        return next(c for c in self.collectives if c.name == name)

    def _platform(self, name: str | None) -> Platform:
        return next(p for p in self.platforms if p.name == name)
