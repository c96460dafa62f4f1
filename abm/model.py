"""LeverageModel: users, collectives and platforms over a social network.

One step is a short script of phases, in order (``step``):

1. platforms publish quality and terms;
2. scheduled events fire; collectives launch, stop and recruit;
3. users decide their action and platform, all from last step's state;
4. data is routed to pools, with provenance; deletions are applied;
5. platforms retrain their learners, are evaluated and book the step's revenue;
   the twin worlds run the same five phases in lockstep (``abm/twins.py``);
6. leverage is measured against the twins and bargaining rounds resolve;
7. the DataCollector records the step.

Users write in phase 3 and platforms read in phases 4-5, so the order in which users
are visited never changes what a model learns. Every random draw comes from a stream
named by (seed, step, purpose, key) (``twins.stream``), so a scenario and a seed fix the
run, and a twin world sees the same draws as the real one.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mesa
import numpy as np

from abm import behaviour, levers, metrics, twins
from abm.agents import Collective, Platform, User, UserState
from abm.bargaining import (
    ROUND_COLUMNS,
    PlatformResponse,
    Position,
    credible_loss,
    nash_bargain,
)
from abm.behaviour import NO_PLATFORM, Action
from abm.learning import (
    ShardedTrainer,
    assign_slices,
    draw_samples,
    load_task,
    make_learner,
    naive_learner_for,
)
from abm.levers import LEVERS
from abm.network import CsrNetwork, build_graph
from abm.routing import Contributions
from abm.scenario import EventAction, Scenario, with_overrides
from abm.twins import Draw
from abm.valuation import exact_shapley, knn_shapley, split_dividend

# What a twin shares with its real world: built once from the seed, never written.
SHARED = ("adjacency", "degree", "n_users", "task", "slices", "group_classes", "naive_quality")


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (reference counting still frees)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class LeverageModel(mesa.Model):
    """The data-leverage model.

    Args:
        scenario: A validated scenario (default: the built-in defaults).
        rng: Seed or generator; defaults to ``scenario.seed``.
        **overrides: Scenario fields to override, with ``__`` between path parts
            (``population__n_users=1000``, ``collectives__union__size=0.3``), so that
            Mesa's ``batch_run`` and the viewer's Reset can rebuild the model.
    """

    def __init__(self, *, scenario: Scenario | None = None, rng: Any = None, **overrides: Any):
        spec = self.resolve(scenario, overrides)
        seed = spec.seed if rng is None else rng
        super().__init__(rng=seed)
        self.spec = spec
        self.root = twins.root_seed(seed, self.rng)
        self.real: LeverageModel | None = None  # a twin's real world

        # The world: network, task, the users' data slices (shared with the twins).
        self.adjacency, groups = build_graph(spec.network, spec.population.n_users, self.rng)
        self.n_users = self.adjacency.shape[0]
        self.degree = np.asarray(self.adjacency.sum(axis=1)).ravel()
        t = spec.task
        self.task = load_task(
            t.name, rng=self.rng, test_size=t.test_size, path=t.path,
            feature_columns=t.feature_columns, label_column=t.label_column,
            n_samples=t.n_samples,
        )  # fmt: skip
        self.slices = assign_slices(
            self.task, self.n_users, heterogeneity=spec.population.heterogeneity.value,
            groups=groups, rng=self.rng,
        )  # fmt: skip
        # Each group's class mix: what "quality for group g" weights per-class recall by.
        self.group_classes = self._group_class_mix(groups)
        self.naive_quality = (
            naive_learner_for(self.task)
            .fit(self.task.X_train, self.task.y_train, self.rng)
            .score(self.task.X_test, self.task.y_test)
        )
        self._populate(groups, off=frozenset())

        # Users as Mesa agents: views on the arrays, on the cells of the network.
        with _gc_paused():  # millions of new objects: no cyclic GC passes over them meanwhile
            self.grid = CsrNetwork(self.adjacency, random=self.random)
            for i in range(self.n_users):
                User(self, i).cell = self.grid[i]

        self.twins = [self.twin(off) for off in twins.plan(self)]
        self.datacollector = metrics.build_datacollector(self)
        metrics.collect(self)

    def twin(self, off: frozenset[int]) -> LeverageModel:
        """A twin world of this one in which the collectives ``off`` never launch."""
        twin = LeverageModel.__new__(LeverageModel)
        mesa.Model.__init__(twin, rng=self.root)
        twin.spec, twin.root, twin.real, twin.twins = self.spec, self.root, self, []
        for name in SHARED:
            setattr(twin, name, getattr(self, name))
        twin._populate(self.users.group, off)
        return twin

    def _populate(self, groups: np.ndarray, off: frozenset[int]) -> None:
        """Users' state, platforms (seeded with their own data) and collectives."""
        spec = self.spec
        self.users = self._initial_users(groups)
        self.platforms = [
            Platform(self, i, p, self._new_learner(i)) for i, p in enumerate(spec.platforms)
        ]
        for p in self.platforms:
            self._seed_platform(p)
        self.collectives = [
            Collective(self, i, c, off=i in off) for i, c in enumerate(spec.collectives)
        ]
        self._recruit_initial_members()
        self.policy = spec.policy.model_copy()
        self.bargaining_log: list[dict[str, Any]] = []

    @staticmethod
    def resolve(scenario: Scenario | None, overrides: dict[str, Any]) -> Scenario:
        """The scenario with ``population__n_users``-style overrides applied.

        Raises:
            ScenarioError: An override names an unknown field or an invalid value.
        """
        spec = scenario if scenario is not None else Scenario()
        if not overrides:
            return spec
        return with_overrides(spec, {k.replace("__", "."): v for k, v in overrides.items()})

    # ------------------------------------------------------------------ the step
    @property
    def t(self) -> int:
        """Index of the step being run (0-based; Mesa's ``steps`` counts from 1)."""
        return self.steps - 1

    def draw(self, purpose: Draw, *key: int) -> np.random.Generator:
        """This step's random stream for one purpose (common to the real world and twins)."""
        return twins.stream(self.root, self.t, purpose, *key)

    def step(self) -> None:
        """Advance the world by one step (see the module docstring for the phases)."""
        # 1. Platforms publish quality and terms: users decide on these numbers.
        quality, price = self.publish_terms()
        # 2. Events fire; collectives launch, stop and recruit.
        self.fire_events()
        self.update_campaigns()
        # 3. Users decide what to do with their data, then which platform to use.
        self.decide_actions()
        self.choose_platforms(quality, price)
        # 4. Data is routed to pools with provenance; deletion requests are applied.
        self.apply_deletions()
        self.route_data()
        # 5. Platforms retrain on exactly what they hold, are evaluated and paid.
        for p in self.platforms:
            self.retrain(p)
        self.book_revenue(price)
        if self.real is not None:
            return  # a twin ends here: its real world measures against it
        for twin in self.twins:
            twin.step()
        # 6. Leverage is measured against the twins; bargaining rounds resolve.
        self.measure_leverage()
        self.bargain()
        for twin in self.twins:
            twin.follow(self)
        # 7. Record the step.
        metrics.collect(self)
        if self.steps >= self.spec.steps:
            self.running = False

    # ------------------------------------------------------------------ phase 1
    def publish_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """Quality and price per platform; a targeted platform may cut its price."""
        for p in self.platforms:
            targeted = any(
                c.active and c.target == p.index and c.members.any() for c in self.collectives
            )
            p.discount = p.spec.incentive if targeted else 0.0
        quality = np.array([p.quality for p in self.platforms])
        price = np.array([p.price - p.discount for p in self.platforms])
        return quality, price

    # ------------------------------------------------------------------ phase 2
    def fire_events(self) -> None:
        """Apply the events scheduled for this step."""
        for event in self.spec.events:
            if event.at != self.t:
                continue
            if event.action is EventAction.LAUNCH:
                self._collective(event.collective).scheduled = True
            elif event.action is EventAction.STOP:
                self._stop(self._collective(event.collective), "stopped by event")
            elif event.action is EventAction.SET_POLICY:
                self.policy = self.policy.model_copy(update=event.policy or {})
            elif event.action is EventAction.AI_SUBSTITUTE:
                self._platform(event.platform).substitute = event.quality
            elif event.action is EventAction.CHANGE_TERMS and event.price is not None:
                self._platform(event.platform).price = event.price

    def update_campaigns(self) -> None:
        """Launch campaigns that reached their start and critical mass; stop finished ones."""
        u = self.users
        for c in self.collectives:
            if c.off:
                continue  # in this twin the campaign never happens
            spec = c.spec
            if c.active and spec.stop is not None and self.t >= spec.stop:
                self._stop(c, "reached its stop step")
            if spec.recruit_rate > 0 and not c.ended_reason:
                share = behaviour.neighbour_mean(
                    self.adjacency, self.degree, c.members.astype(np.float32)
                )
                u.member[:, c.index] = behaviour.recruit(
                    c.members, share + u.grievance[:, c.target], u.threshold,
                    self.draw(Draw.RECRUIT, c.index).random(self.n_users), spec.recruit_rate,
                )  # fmt: skip
            ready = c.scheduled or self.t >= spec.start
            mass = c.members.mean() >= spec.critical_mass
            if not c.active and not c.ended_reason and ready and mass:
                c.active = True

    # ------------------------------------------------------------------ phase 3
    def decide_actions(self) -> None:
        """Members of running campaigns decide whether to act (threshold rule)."""
        u = self.users
        was = u.acting.copy()
        for c in self.collectives:
            if not c.active:
                u.acting[:, c.index] = False
                c.turnout = c.participation = 0.0  # nobody acts once a campaign stops
                continue
            spec = c.spec
            # Only users of the target (or members already boycotting it) can act on it.
            eligible = (u.platform == c.target) | was[:, c.index]
            # Pressure matters only to members who can act: compute it for their rows.
            rows = np.flatnonzero(c.members & eligible)
            neighbours = behaviour.neighbour_mean(
                self.adjacency[rows], self.degree[rows], was[:, c.index].astype(np.float32)
            )
            pressed = behaviour.participation_pressure(neighbours, c.turnout, spec.turnout_weight)
            pressure = np.zeros(self.n_users, pressed.dtype)
            pressure[rows] = pressed
            acting = behaviour.will_act(
                c.members & eligible, pressure, u.threshold, was[:, c.index],
                self.draw(Draw.ACT, c.index).random(self.n_users), spec.fatigue,
            )  # fmt: skip
            tired = was[:, c.index] & ~acting & c.members & (pressure >= u.threshold)
            u.member[tired, c.index] = False  # fatigue is attrition: the member leaves
            u.acting[:, c.index] = acting
            c.turnout = float(acting.sum()) / max(int(c.members.sum()), 1)
            c.participation = float(acting.mean())

        # A user acts in the first collective (scenario order) whose campaign it joins.
        u.actor[:] = -1
        if self.collectives:
            acts = u.acting.any(axis=1)
            u.actor[acts] = u.acting[acts].argmax(axis=1)
        action = np.where(u.platform >= 0, Action.CONTRIBUTE, Action.IDLE).astype(np.int8)
        for c in self.collectives:
            action[u.actor == c.index] = LEVERS[c.spec.lever].action
        u.action = action

    def choose_platforms(self, quality: np.ndarray, price: np.ndarray) -> None:
        """Users reconsider their platform by a logit over utility (boycotters leave)."""
        u, pop = self.users, self.spec.population
        n_platforms = len(self.platforms)
        onehot = np.zeros((self.n_users, n_platforms), np.float32)
        on = u.platform >= 0
        onehot[np.flatnonzero(on), u.platform[on]] = 1.0
        boycotting = u.action == Action.BOYCOTT
        draws = self.draw(Draw.RECONSIDER)
        reconsider = ((draws.random(self.n_users) < pop.reconsider_rate) | ~on) & ~boycotting
        uniforms = draws.random(self.n_users)
        # Utilities matter only to the users who reconsider: compute their rows alone.
        rows = np.flatnonzero(reconsider)
        share = behaviour.neighbour_mean(self.adjacency[rows], self.degree[rows], onehot)
        utility = np.zeros((self.n_users, n_platforms))
        utility[rows] = behaviour.platform_utility(
            quality, price, u.grievance[rows], share, pop.network_weight
        )
        choice = behaviour.choose_platform(
            utility, u.platform, rationality=pop.rationality,
            switching_cost=pop.switching_cost * (1.0 - self.policy.portability),
            reconsider=reconsider, uniforms=uniforms,
        )  # fmt: skip
        choice[boycotting] = NO_PLATFORM
        u.platform = choice.astype(np.int32)
        u.action[(u.platform < 0) & ~boycotting] = Action.IDLE

    # ------------------------------------------------------------------ phase 4
    def apply_deletions(self) -> None:
        """Members of deleting levers ask the target to delete their data, once.

        A member asks as soon as it acts under a right to delete, including a right
        granted while the campaign was already running.
        """
        if not self.policy.right_to_delete:
            return
        for c in self.collectives:
            if not LEVERS[c.spec.lever].deletes:
                continue
            who = np.flatnonzero(c.acting & ~c.erased)
            if who.size:
                c.erased[who] = True
                self.platforms[c.target].delete(who, self.draw(Draw.UNLEARN, c.target))

    def route_data(self) -> None:
        """Users make data and send it where their action says, with provenance.

        Every user's count and rows are drawn whatever it decided (common random
        numbers); only the rows of users on a platform are then made.
        """
        u, n = self.users, self.n_users
        draws = self.draw(Draw.DATA)
        counts = draws.poisson(self.spec.population.samples_per_step, n)
        sample = draw_samples(self.slices, np.arange(n), counts, draws)
        owner = np.repeat(np.arange(n), counts)
        asked = self.draw(Draw.SUBSTITUTE).random(owner.size)  # for an AI substitute
        made = u.platform[owner] >= 0
        sample, owner, asked = sample[made], owner[made], asked[made]
        u.contributed += np.bincount(owner, minlength=n)
        batch = Contributions(self.task, sample, owner, u.actor[owner], self.t)
        home, act = u.platform[owner], u.action[owner]

        # Alter what poisoning and planting members send, per collective.
        for c in self.collectives:
            rule = LEVERS[c.spec.lever]
            rows = np.flatnonzero((batch.actor == c.index) & (act == rule.action))
            if rule.alteration is not None and rows.size:
                self._alter(c, rule, batch, rows)
        batch.seal()

        # Destinations: the home platform, the CDC target, or nowhere.
        to_home = np.isin(act, (Action.CONTRIBUTE, Action.POISON, Action.PLANT))
        redirect = np.full(owner.size, NO_PLATFORM, np.int32)
        for c in self.collectives:
            if c.redirect is not None:
                mine = (batch.actor == c.index) & (act == Action.REDIRECT)
                redirect[mine] = c.redirect
                if LEVERS[c.spec.lever].also_home:
                    to_home |= mine
        # Where an AI substitute answers, some users ask it instead of the platform.
        for p in self.platforms:
            if p.substitute is not None:
                rationality = self.spec.population.rationality
                away = behaviour.asks_substitute(p.substitute, p.quality, rationality)
                to_home &= ~((home == p.index) & (asked < away))
        for p in self.platforms:
            p.receive(batch, np.flatnonzero((to_home & (home == p.index)) | (redirect == p.index)))

    def _alter(self, c: Collective, rule: levers.LeverRule, batch: Contributions, rows) -> None:
        """Apply a collective's alteration lever to its acting members' rows."""
        code, alter = rule.alteration
        spec, task = c.spec, self.task
        context = levers.Alter(
            rate=spec.rate, n_classes=task.n_classes,
            trigger=self.trigger(c) if rule.signal else None,
            signal_target=spec.signal.target, signal_noise=spec.signal.noise,
            reference_X=task.X_train,
        )  # fmt: skip
        X, y = task.X_train[batch.sample[rows]], batch.y_sent[rows]
        mask, X_new, y_new = alter(X, y, context, self.draw(Draw.ALTER, c.index))
        batch.alter(rows[mask], code, X_new, y_new)

    def trigger(self, c: Collective) -> levers.Trigger:
        """The collective's trigger pattern, chosen once from the training data.

        It is chosen in the data's own units (a digits pixel fully on is 16), then
        expressed in the standardised units the learners see, feature by feature.
        """
        if c.trigger is None:
            s, task = c.spec.signal, self.task
            mean, scale = task.feature_mean, task.feature_scale
            if mean is None or scale is None:
                c.trigger = levers.choose_trigger(task.X_train, s.n_features, s.rare)
            else:
                raw = levers.choose_trigger(task.X_train * scale + mean, s.n_features, s.rare)
                feats = list(raw.features)
                values = (raw.value - mean[feats]) / scale[feats]
                c.trigger = levers.Trigger(raw.features, tuple(float(v) for v in values))
        return c.trigger

    # ------------------------------------------------------------------ phase 5
    def retrain(self, p: Platform) -> None:
        """Expire old rows, retrain the platform on its pool, evaluate it."""
        if p.spec.retention is not None:
            p.expire(self.t, p.spec.retention)
        p.retrain(self.t, self.draw(Draw.TRAIN, p.index))
        self.evaluate(p)

    def evaluate(self, p: Platform) -> None:
        """Held-out quality overall and as experienced by each user group.

        A group's quality weights the model's per-class recall by the classes in its
        members' data, so a strike by a homogeneous group shows up where it bites.
        """
        task = self.task
        if task.kind != "classification":
            p.quality = p.trainer.score(task.X_test, task.y_test)
            return
        hit = p.trainer.predict(task.X_test) == task.y_test
        p.quality = float(hit.mean())
        recall = np.bincount(task.y_test, weights=hit, minlength=task.n_classes) / np.maximum(
            np.bincount(task.y_test, minlength=task.n_classes), 1
        )
        p.group_quality = self.group_classes @ recall

    def book_revenue(self, price: np.ndarray) -> None:
        """Each platform's revenue this step, in utility (``abm/bargaining.py``)."""
        for c in self.collectives:
            if c.dividend_rate > 0:  # an agreed dividend is paid every step
                c.dividend += c.dividend_rate
                self.platforms[c.target].pay(c.dividend_rate, dividend=True)
        users = np.bincount(self.users.platform[self.users.platform >= 0], minlength=len(price))
        for p in self.platforms:
            p.pay(p.discount * users[p.index])
            p.book(users[p.index] * (price[p.index] + self.policy.value_of_quality * p.quality))

    def payoffs(self) -> np.ndarray:
        """Each user's payoff this step: its platform's quality minus the price it paid."""
        u = self.users
        value = np.append([p.quality - p.price + p.discount for p in self.platforms], 0.0)
        return value[np.where(u.platform >= 0, u.platform, len(self.platforms))]

    # ------------------------------------------------------------------ phase 6
    def measure_leverage(self) -> None:
        """Every collective's effects against its twin, every step (``twins.measure``)."""
        plan = twins.plan(self)
        for c in self.collectives:
            off = next((o for o in plan if o == {c.index}), plan[-1] if plan else None)
            if off is None:
                continue
            twin = self.twins[plan.index(off)]
            c.effects = twins.measure(self, twin, c.index)
            c.cost += c.effects.member_cost
            if c.active:
                c.round_loss.append(c.effects.revenue)
                c.round_cost.append(c.effects.member_cost)
            if LEVERS[c.spec.lever].signal:
                c.signal_success = self.success(self, c)
                c.natural_success = self.success(twin, c)

    def success(self, world: LeverageModel, c: Collective) -> float:
        """Share of triggered held-out points ``world``'s target labels as ``c`` wants."""
        task = self.task
        predict = world.platforms[c.target].trainer.predict
        trigger, target = self.trigger(c), c.spec.signal.target
        return levers.signal_success(predict, task.X_test, task.y_test, trigger, target)

    def bargain(self) -> None:
        """Running campaigns bargain with their target every ``bargaining_every`` steps.

        A refused collective goes on while its campaign hurts the platform more than it
        costs the members, and stops after ``patience`` rounds in a row in which it does
        not.
        """
        every = self.policy.bargaining_every
        if not self.twins or every == 0 or self.t % every != every - 1:
            return
        for c in self.collectives:
            if not c.active or len(c.round_loss) < 2:  # a round needs evidence of noise
                continue
            position = Position(
                platform_loss=credible_loss(c.round_loss),
                member_cost=float(np.mean(c.round_cost)),
                demand=c.spec.demand * int(c.members.sum()),
                power=self.policy.bargaining_power,
                rights=self.policy.bargaining_rights,
            )
            c.round_loss, c.round_cost = [], []
            outcome = nash_bargain(position)
            c.last_outcome = outcome
            values = (
                self.t, c.name, self.platforms[c.target].name, c.effects.leverage,
                position.platform_loss, position.member_cost, position.demand,
                outcome.dividend, outcome.paid, outcome.response.name.lower(), outcome.reason,
            )  # fmt: skip
            self.bargaining_log.append(dict(zip(ROUND_COLUMNS, values, strict=True)))
            if outcome.response is PlatformResponse.CONCEDE:
                self.concede(c, outcome.paid)
            elif position.platform_loss <= position.member_cost:
                c.futile_rounds += 1
                if c.futile_rounds >= c.spec.patience:
                    self._stop(c, "acting cost the members more than it cost the platform")
            else:
                c.futile_rounds = 0

    def concede(self, c: Collective, dividend: float) -> None:
        """The target agrees to pay ``dividend`` per step; the campaign ends."""
        c.dividend_rate, c.concession = dividend, True
        self.users.grievance[c.members, c.target] = 0.0
        self._stop(c, "demand met")

    def follow(self, real: LeverageModel) -> None:
        """A twin ends the campaigns its real world's bargaining ended, the same way."""
        for mine, theirs in zip(self.collectives, real.collectives, strict=True):
            if mine.off or mine.ended_reason or not theirs.ended_reason:
                continue
            if theirs.concession:
                self.concede(mine, theirs.dividend_rate)
            else:
                self._stop(mine, theirs.ended_reason)

    # ------------------------------------------------------------------ valuation
    def value_collectives(self, max_rows: int = 5000) -> dict[str, float]:
        """Exact Shapley value of each collective's data (all coalitions retrained).

        The game: ``V(S)`` is the held-out quality of a fresh learner (the first
        platform's kind) trained on the clean data everyone produced during the run
        that reached any platform in the real world or its twins, keeping non-members'
        data always and members' data only for collectives in ``S``. A user in several
        collectives counts for the first. Values sum to ``V(all) - V(none)``. Above
        ``max_rows`` rows the game is played on a uniform subsample of them, so that 2^C
        refits stay cheap at a million users.
        """
        if not self.collectives:
            return {}
        pools = [p.pool for world in (self, *self.twins) for p in world.platforms]
        sample = np.concatenate([q.sample for q in pools])
        contributor = np.concatenate([q.contributor for q in pools])
        step = np.concatenate([q.step for q in pools])
        key = np.unique(np.stack([sample, contributor, step], axis=1), axis=0)
        rng = self.draw(Draw.VALUATION)
        if len(key) > max_rows:
            key = key[np.sort(rng.choice(len(key), size=max_rows, replace=False))]
        sample, contributor = key[:, 0], key[:, 1]
        u = self.users
        first = np.where(u.member.any(axis=1), u.member.argmax(axis=1), -1)
        owner = np.where(contributor >= 0, first[np.maximum(contributor, 0)], -1)
        X, y = self.task.X_train[sample], self.task.y_train[sample]
        kind = self.spec.platforms[0].learner

        def value(coalition: frozenset[str]) -> float:
            keep = owner < 0
            for c in self.collectives:
                if c.name in coalition:
                    keep |= owner == c.index
            if not keep.any():
                return self.naive_quality
            learner = make_learner(kind, self.task).fit(X[keep], y[keep], rng)
            return learner.score(self.task.X_test, self.task.y_test)

        values = exact_shapley([c.name for c in self.collectives], value)
        for c in self.collectives:
            c.value = values[c.name]
        return values

    def value_users(self, max_rows: int = 2000, max_test: int = 300, k: int = 5) -> np.ndarray:
        """KNN-Shapley value of each user's data to the platforms it contributed to.

        Per platform, the values of (at most ``max_rows``) pool rows are computed in
        closed form (Jia et al., 2019) against (at most ``max_test``) held-out points,
        summed per contributor and scaled up by the sampling fraction. A collective's
        dividend is then split among its members in proportion to their values.

        Returns:
            (n,) value per user; also stored in ``users.value`` with the dividend shares
            in ``users.dividend``.
        """
        task, u = self.task, self.users
        if task.kind != "classification":
            return u.value
        rng = self.draw(Draw.VALUATION, 1)
        test = rng.permutation(task.n_test)[:max_test]
        for p in self.platforms:
            live = np.flatnonzero(p.pool.contributor >= 0)
            if live.size == 0:
                continue
            rows = rng.choice(live, size=min(max_rows, live.size), replace=False)
            values = knn_shapley(
                p.pool.features(task.X_train, rows), p.pool.y[rows],
                task.X_test[test], task.y_test[test], k,
            )  # fmt: skip
            u.value += np.bincount(
                p.pool.contributor[rows], weights=values, minlength=self.n_users
            ) * (live.size / rows.size)
        for c in self.collectives:
            members = np.flatnonzero(c.members)
            if c.dividend > 0 and members.size:
                u.dividend[members] += split_dividend(c.dividend, u.value[members])
        return u.value

    # ------------------------------------------------------------------ helpers
    def _initial_users(self, groups: np.ndarray) -> UserState:
        pop, spec = self.spec.population, self.spec
        n, n_platforms = self.n_users, len(spec.platforms)
        rng = self.draw(Draw.SETUP_USERS)
        u = UserState.empty(n, n_platforms, len(spec.collectives))
        u.group = groups
        shares = np.array([p.initial_share for p in spec.platforms], float)
        u.platform = rng.choice(n_platforms, size=n, p=shares / shares.sum()).astype(np.int32)
        u.threshold = np.clip(rng.normal(pop.threshold_mean, pop.threshold_sd, n), 0.0, 1.0)
        u.grievance[:] = pop.grievance
        return u

    def _recruit_initial_members(self) -> None:
        u = self.users
        for c in self.collectives:
            pool = np.flatnonzero(u.group == c.spec.group) if c.spec.group is not None else None
            pool = np.arange(self.n_users) if pool is None else pool
            k = int(round(c.spec.size * self.n_users))
            rng = self.draw(Draw.SETUP_MEMBERS, c.index)
            u.member[rng.choice(pool, size=min(k, pool.size), replace=False), c.index] = True

    def _group_class_mix(self, groups: np.ndarray) -> np.ndarray:
        if self.task.kind != "classification":
            return np.zeros((0, 0))
        owner_group = groups[self.slices.owners()]
        classes = self.task.y_train[self.slices.order]
        n_groups = int(groups.max()) + 1
        mix = np.zeros((n_groups, self.task.n_classes))
        np.add.at(mix, (owner_group, classes), 1.0)
        return mix / np.maximum(mix.sum(axis=1, keepdims=True), 1.0)

    def _new_learner(self, index: int) -> Any:
        spec = self.spec.platforms[index]
        if spec.shards > 1:
            factory = lambda: make_learner(spec.learner, self.task)  # noqa: E731
            return ShardedTrainer(spec.shards, factory, self.draw(Draw.SETUP_PLATFORM, index, 0))
        return make_learner(spec.learner, self.task)

    def _seed_platform(self, p: Platform) -> None:
        """The platform's own data at step 0, so its model starts above the baseline."""
        k = p.spec.seed_data
        if k:
            rng = self.draw(Draw.SETUP_PLATFORM, p.index, 1)
            sample = rng.integers(0, self.task.n_train, k)
            p.seed(sample, self.task.y_train[sample], rng)
        self.evaluate(p)
        p.initial_quality = p.quality

    def _stop(self, c: Collective, reason: str) -> None:
        if c.active or not c.ended_reason:
            c.active = False
            c.scheduled = False
            c.ended_reason = reason
            self.users.acting[:, c.index] = False

    def _collective(self, name: str | None) -> Collective:
        return next(c for c in self.collectives if c.name == name)

    def _platform(self, name: str | None) -> Platform:
        return next(p for p in self.platforms if p.name == name)
