"""LeverageModel: users, collectives and platforms over a social network.

One step is a short script of phases, in order (``step``):

1. platforms publish quality and terms;
2. scheduled events fire; collectives launch, stop and recruit;
3. users decide their platform and action, all from last step's state;
4. data is routed to pools, with provenance; deletions are applied;
5. platforms retrain their learners and are evaluated on the held-out set;
6. leverage is measured against counterfactual (shadow) platforms and bargaining
   rounds resolve;
7. the DataCollector records the step.

Users write in phase 3 and platforms read in phase 4-5, so the order in which users
are visited never changes what a model learns. Every random choice draws from the
model's single ``rng`` in a fixed order, so a scenario and a seed fix the run.
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mesa
import numpy as np

from abm import behaviour, levers, metrics
from abm.agents import Collective, Platform, Shadow, User, UserState
from abm.bargaining import PlatformResponse, Position, nash_bargain, normalised_leverage
from abm.behaviour import NO_PLATFORM, Action
from abm.learning import (
    Alteration,
    DataPool,
    ShardedTrainer,
    assign_slices,
    draw_samples,
    load_task,
    make_learner,
    naive_learner_for,
)
from abm.network import CsrNetwork, build_graph
from abm.scenario import EventAction, Lever, Scenario, with_overrides
from abm.scenario.paths import keyword_overrides
from abm.valuation import exact_shapley, knn_shapley, split_dividend


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


# The action a member takes when acting under each lever.
LEVER_ACTION = {
    Lever.STRIKE: Action.WITHHOLD,
    Lever.RETRO_STRIKE: Action.WITHHOLD,
    Lever.BOYCOTT: Action.BOYCOTT,
    Lever.CDC: Action.REDIRECT,
    Lever.STRIKE_CDC: Action.REDIRECT,
    Lever.POISON_LABELS: Action.POISON,
    Lever.POISON_NOISE: Action.POISON,
    Lever.PLANT_SIGNAL: Action.PLANT,
    Lever.PLANT_FEATURE_ONLY: Action.PLANT,
    Lever.ERASE_SIGNAL: Action.PLANT,
}


class Contributions:
    """One step's data: a row per sample a user made, with its provenance.

    Rows start as clean copies of the users' training samples; levers then alter some
    (``alter``), and the rows are delivered to pools (``add_to``). Only altered rows
    carry features of their own.
    """

    def __init__(
        self, task: Any, sample: np.ndarray, owner: np.ndarray, actor: np.ndarray, step: int
    ):
        self.task, self.step = task, step
        self.sample, self.owner, self.actor = sample, owner, actor
        self.y = task.y_train[sample]
        self.y_sent = self.y.copy()
        self.alteration = np.zeros(sample.size, np.int8)
        self._altered: list[tuple[np.ndarray, np.ndarray]] = []
        self._slot = np.full(sample.size, -1, np.int64)  # row -> its altered features
        self._X = np.zeros((0, task.X_train.shape[1]))

    def alter(self, rows: np.ndarray, how: Alteration, X: np.ndarray, y: np.ndarray | None = None):
        """Mark ``rows`` as altered, with the features (and labels) they are sent with."""
        self.alteration[rows] = how
        if y is not None:
            self.y_sent[rows] = y
        self._altered.append((rows, X))

    def seal(self) -> None:
        """Gather the altered features once all levers have run."""
        if self._altered:
            rows = np.concatenate([r for r, _ in self._altered])
            self._X = np.concatenate([x for _, x in self._altered])
            self._slot[rows] = np.arange(rows.size)

    def features(self, rows: np.ndarray) -> np.ndarray:
        """Features of ``rows`` as sent."""
        X = self.task.X_train[self.sample[rows]]
        slot = self._slot[rows]
        if (slot >= 0).any():
            X[slot >= 0] = self._X[slot[slot >= 0]]
        return X

    def add_to(self, pool: DataPool, rows: np.ndarray, clean: bool = False) -> None:
        """Append ``rows`` to a pool as sent (or, ``clean``, as the users made them)."""
        if clean:
            pool.add(self.sample[rows], self.y[rows], self.owner[rows], self.step)
            return
        slot = self._slot[rows]
        pool.add(
            self.sample[rows],
            self.y_sent[rows],
            self.owner[rows],
            self.step,
            self.actor[rows],
            self.alteration[rows],
            self._X[slot[slot >= 0]] if (slot >= 0).any() else None,
        )


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
        super().__init__(rng=spec.seed if rng is None else rng)
        self.spec = spec
        pop = spec.population

        # The world: network, task, the users' data slices.
        self.adjacency, groups = build_graph(spec.network, pop.n_users, self.rng)
        self.n_users = self.adjacency.shape[0]
        self.degree = np.asarray(self.adjacency.sum(axis=1)).ravel()
        self.task = load_task(
            spec.task.name,
            rng=self.rng,
            test_size=spec.task.test_size,
            path=spec.task.path,
            feature_columns=spec.task.feature_columns,
            label_column=spec.task.label_column,
            n_samples=spec.task.n_samples,
        )
        self.slices = assign_slices(
            self.task,
            self.n_users,
            heterogeneity=pop.heterogeneity.value,
            groups=groups,
            rng=self.rng,
        )
        # Each group's class mix: what "quality for group g" weights per-class recall by.
        self.group_classes = self._group_class_mix(groups)
        self.naive_quality = (
            naive_learner_for(self.task)
            .fit(self.task.X_train, self.task.y_train, self.rng)
            .score(self.task.X_test, self.task.y_test)
        )

        # Users: state in arrays, agents as views on the network's cells.
        self.users = self._initial_users(groups)
        with _gc_paused():  # millions of new objects: no cyclic GC passes over them meanwhile
            self.grid = CsrNetwork(self.adjacency, random=self.random)
            for i in range(self.n_users):
                User(self, i).cell = self.grid[i]

        self.platforms = [
            Platform(self, i, p, self._new_learner(p)) for i, p in enumerate(spec.platforms)
        ]
        for p in self.platforms:
            self._seed_platform(p)
        self.collectives = [Collective(self, i, c) for i, c in enumerate(spec.collectives)]
        self._recruit_initial_members()

        self.policy = spec.policy.model_copy()
        self.bargaining_log: list[dict[str, Any]] = []
        self.datacollector = metrics.build_datacollector(self)
        metrics.collect(self)

    @staticmethod
    def resolve(scenario: Scenario | None, overrides: dict[str, Any]) -> Scenario:
        """The scenario with ``population__n_users``-style overrides applied.

        Raises:
            ScenarioError: An override names an unknown field or an invalid value.
        """
        spec = scenario if scenario is not None else Scenario()
        if not overrides:
            return spec
        return with_overrides(spec, keyword_overrides(overrides))

    # ------------------------------------------------------------------ the step
    @property
    def t(self) -> int:
        """Index of the step being run (0-based; Mesa's ``steps`` counts from 1)."""
        return self.steps - 1

    def step(self) -> None:
        """Advance the world by one step (see the module docstring for the phases)."""
        # 1. Platforms publish quality and terms: users decide on these numbers.
        quality = np.array([p.quality for p in self.platforms])
        price = np.array([p.price - self.incentive(p) for p in self.platforms])
        # 2. Events fire; collectives launch, stop and recruit.
        self.fire_events()
        self.update_campaigns()
        # 3. Users decide what to do with their data, then which platform to use.
        self.decide_actions()
        self.choose_platforms(quality, price)
        # 4. Data is routed to pools with provenance; deletion requests are applied.
        self.apply_deletions()
        self.route_data()
        # 5. Platforms retrain on exactly what they hold and are evaluated.
        for p in self.platforms:
            self.retrain(p)
        self.retrain_shadows()
        # 6. Leverage is measured against shadow platforms; bargaining rounds resolve.
        self.measure_leverage()
        self.account_costs()
        self.bargain()
        # 7. Record the step.
        metrics.collect(self)
        if self.steps >= self.spec.steps:
            self.running = False

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
                self._platform(event.platform).contribution_factor *= 1.0 - event.strength
            elif event.action is EventAction.CHANGE_TERMS and event.price is not None:
                self._platform(event.platform).price = event.price

    def update_campaigns(self) -> None:
        """Launch campaigns that reached their start and critical mass; stop finished ones."""
        u = self.users
        for c in self.collectives:
            spec = c.spec
            if c.active and spec.stop is not None and self.t >= spec.stop:
                self._stop(c, "reached its stop step")
            if spec.recruit_rate > 0 and not c.ended_reason:
                share = behaviour.neighbour_mean(
                    self.adjacency, self.degree, c.members.astype(np.float32)
                )
                u.member[:, c.index] = behaviour.recruit(
                    c.members,
                    share + u.grievance[:, c.target],
                    u.threshold,
                    self.rng.random(self.n_users),
                    spec.recruit_rate,
                )
            ready = c.scheduled or self.t >= spec.start
            mass = c.members.mean() >= spec.critical_mass
            if not c.active and not c.ended_reason and ready and mass:
                self._launch(c)

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
                c.members & eligible,
                pressure,
                u.threshold,
                was[:, c.index],
                self.rng.random(self.n_users),
                spec.fatigue,
            )
            tired = was[:, c.index] & ~acting & c.members & (pressure >= u.threshold)
            u.member[tired, c.index] = False  # fatigue is attrition: the member leaves
            u.acting[:, c.index] = acting
            members = max(int(c.members.sum()), 1)
            c.turnout = float(acting.sum()) / members
            c.participation = float(acting.mean())

        # A user acts in the first collective (scenario order) whose campaign it joins.
        self.actor = np.full(self.n_users, -1, np.int32)
        if self.collectives:
            acts = u.acting.any(axis=1)
            self.actor[acts] = u.acting[acts].argmax(axis=1)
        action = np.where(u.platform >= 0, Action.CONTRIBUTE, Action.IDLE).astype(np.int8)
        for c in self.collectives:
            action[self.actor == c.index] = LEVER_ACTION[c.spec.lever]
        u.action = action

    def choose_platforms(self, quality: np.ndarray, price: np.ndarray) -> None:
        """Users reconsider their platform by a logit over utility (boycotters leave)."""
        u, pop = self.users, self.spec.population
        n_platforms = len(self.platforms)
        onehot = np.zeros((self.n_users, n_platforms), np.float32)
        on = u.platform >= 0
        onehot[np.flatnonzero(on), u.platform[on]] = 1.0
        boycotting = u.action == Action.BOYCOTT
        reconsider = ((self.rng.random(self.n_users) < pop.reconsider_rate) | ~on) & ~boycotting
        # Utilities matter only to the users who reconsider: compute their rows alone.
        rows = np.flatnonzero(reconsider)
        share = behaviour.neighbour_mean(self.adjacency[rows], self.degree[rows], onehot)
        utility = np.zeros((self.n_users, n_platforms))
        utility[rows] = behaviour.platform_utility(
            quality, price, u.grievance[rows], share, pop.network_weight
        )
        choice = behaviour.choose_platform(
            utility,
            u.platform,
            rationality=pop.rationality,
            switching_cost=pop.switching_cost * (1.0 - self.policy.portability),
            reconsider=reconsider,
            uniforms=self.rng.random(self.n_users),
        )
        choice[boycotting] = NO_PLATFORM
        u.platform = choice.astype(np.int32)
        u.action[(u.platform < 0) & ~boycotting] = Action.IDLE

    # ------------------------------------------------------------------ phase 4
    def apply_deletions(self) -> None:
        """Retroactive strikers ask the target to delete their data, once.

        A member asks as soon as it acts under a right to delete, including a right
        granted while the campaign was already running.
        """
        if not self.policy.right_to_delete:
            return
        for c in self.collectives:
            if c.spec.lever is not Lever.RETRO_STRIKE:
                continue
            who = np.flatnonzero(c.acting & ~c.erased)
            if who.size == 0:
                continue
            c.erased[who] = True
            p = self.platforms[c.target]
            if isinstance(p.trainer, ShardedTrainer):
                before = p.trainer.samples_retrained
                p.deleted += p.trainer.delete(p.pool, self.task.X_train, self.rng, contributors=who)
                p.unlearning_cost += p.trainer.samples_retrained - before
            else:
                removed = p.pool.delete(contributors=who)
                if removed:
                    p.deleted += removed
                    p.needs_refit = True

    def route_data(self) -> None:
        """Users make data and send it where their action says, with provenance."""
        u = self.users
        counts = self.rng.poisson(self.spec.population.samples_per_step, self.n_users)
        counts[u.platform < 0] = 0
        producers = np.flatnonzero(counts)
        counts = counts[producers]
        sample = draw_samples(self.slices, producers, counts, self.rng)
        owner = np.repeat(producers, counts)
        u.contributed += np.bincount(owner, minlength=self.n_users)
        batch = Contributions(self.task, sample, owner, self.actor[owner], self.t)
        home = u.platform[owner]
        act = u.action[owner]

        # Alter what poisoning and planting members send, per collective.
        for c in self.collectives:
            rows = np.flatnonzero(
                (batch.actor == c.index) & np.isin(act, (Action.POISON, Action.PLANT))
            )
            if rows.size:
                self._alter(c, batch, rows)
        batch.seal()

        # Destinations: the home platform, the CDC target, or nowhere.
        to_home = np.isin(act, (Action.CONTRIBUTE, Action.POISON, Action.PLANT))
        redirect = np.full(owner.size, NO_PLATFORM, np.int32)
        for c in self.collectives:
            if c.redirect is None:
                continue
            mine = (batch.actor == c.index) & (act == Action.REDIRECT)
            redirect[mine] = c.redirect
            if c.spec.lever is Lever.CDC:
                to_home |= mine  # CDC without a strike: both platforms get the data
        # An AI substitute makes some would-be contributions never happen.
        factor = np.array([p.contribution_factor for p in self.platforms])
        kept = self.rng.random(owner.size) < factor[np.maximum(home, 0)]
        to_home &= kept

        for p in self.platforms:
            self._deliver(
                p, batch, np.flatnonzero((to_home & (home == p.index)) | (redirect == p.index))
            )

        # Shadows receive what the target would have received had the collective acted
        # normally: its members' clean data, everyone else's data as it really came.
        for c in self.collectives:
            if c.shadow is None:
                continue
            theirs = batch.actor == c.index
            mine = kept & (home == c.target) & (act != Action.IDLE) & theirs
            others = ((to_home & (home == c.target)) | (redirect == c.target)) & ~theirs
            batch.add_to(c.shadow.pool, np.flatnonzero(mine), clean=True)
            batch.add_to(c.shadow.pool, np.flatnonzero(others))

    def _alter(self, c: Collective, batch: Contributions, rows: np.ndarray) -> None:
        """Apply a collective's poisoning or signal lever to its members' rows."""
        spec, X = c.spec, self.task.X_train[batch.sample[rows]]
        lever = spec.lever
        if lever is Lever.POISON_LABELS:
            y_new, mask = levers.flip_labels(
                batch.y_sent[rows], spec.rate, self.task.n_classes, self.rng
            )
            batch.alter(rows[mask], Alteration.LABEL_FLIP, X[mask], y_new[mask])
        elif lever is Lever.POISON_NOISE:
            X_new, mask = levers.add_feature_noise(X, spec.rate, 1.0, self.rng)
            batch.alter(rows[mask], Alteration.FEATURE_NOISE, X_new[mask])
        elif lever is Lever.ERASE_SIGNAL:
            X_new = levers.erase_signal(X, self.trigger(c), self.task.X_train)
            mask = self.rng.random(rows.size) < spec.rate
            batch.alter(rows[mask], Alteration.SIGNAL_ERASED, X_new[mask])
        else:
            X_new, y_new, mask = levers.plant_signal(
                X,
                batch.y_sent[rows],
                self.trigger(c),
                spec.signal.target,
                self.rng,
                feature_only=lever is Lever.PLANT_FEATURE_ONLY,
                noise=spec.signal.noise,
            )
            mask &= self.rng.random(rows.size) < spec.rate
            batch.alter(rows[mask], Alteration.SIGNAL_PLANTED, X_new[mask], y_new[mask])

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

    def _deliver(self, p: Platform, batch: Contributions, rows: np.ndarray) -> None:
        p.received += rows.size
        if p.spec.filter_poison and rows.size and p.trainer.is_fitted:
            # Countermeasure: drop rows whose label the current model disputes.
            disputed = p.trainer.predict(batch.features(rows)) != batch.y_sent[rows]
            p.filtered += int(disputed.sum())
            p.countermeasure_cost += p.spec.filter_cost
            rows = rows[~disputed]
        batch.add_to(p.pool, rows)
        p.new_samples = rows.size

    # ------------------------------------------------------------------ phase 5
    def retrain(self, p: Platform) -> None:
        """Retrain a platform on its pool: incrementally on new rows, or a full refit."""
        if p.spec.retention is not None:
            expired = p.pool.expire(self.t, p.spec.retention)
            p.expired += expired
            p.needs_refit |= expired > 0
        if p.needs_refit and not isinstance(p.trainer, ShardedTrainer):
            p.unlearning_cost += len(p.pool)  # exact unlearning without shards: a full retrain
        if p.new_samples or p.needs_refit:
            self._train(
                p.trainer, p.pool, since=self.t - 1, full=p.needs_refit or p.spec.retrain == "full"
            )
        p.needs_refit = False
        self.evaluate(p)

    def retrain_shadows(self) -> None:
        """Shadows of incrementally trained platforms learn every step, like the real one.

        Updating a shadow only at the measurement cadence would give it fewer gradient
        steps than its platform, a gap that is not the collective's doing. A full refit
        does not depend on the path, so those shadows refit only when measured.
        """
        for c in self.collectives:
            s = c.shadow
            if s is not None and self.platforms[c.target].spec.retrain == "incremental":
                self._train(s.trainer, s.pool, since=s.trained_until, full=False)
                s.trained_until = self.t

    def _train(self, trainer: Any, pool: DataPool, *, since: int, full: bool) -> None:
        """Train on a pool: a full refit, or an update on the rows added after ``since``.

        Platforms and their shadows train through this one path, so a counterfactual
        differs from the real platform only in the data it received.
        """
        X = self.task.X_train
        if isinstance(trainer, ShardedTrainer):
            trainer.fit(pool, X, self.rng)
        elif full:
            if len(pool):
                trainer.fit(pool.features(X), pool.y, self.rng)
        else:
            new = np.flatnonzero(pool.step > since)
            if new.size:
                trainer.update(pool.features(X, new), pool.y[new], self.rng)

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

    def incentive(self, p: Platform) -> float:
        """The price cut a platform offers while a campaign targets it (paid per user)."""
        if p.spec.incentive == 0 or not any(
            c.active and c.target == p.index for c in self.collectives
        ):
            return 0.0
        p.countermeasure_cost += p.spec.incentive * float(
            np.count_nonzero(self.users.platform == p.index)
        )
        return p.spec.incentive

    # ------------------------------------------------------------------ phase 6
    def measure_leverage(self) -> None:
        """At the measurement cadence, retrain each shadow and measure leverage."""
        every = self.spec.measurement.counterfactual_every
        if every == 0 or self.t % every != every - 1:
            return
        for c in self.collectives:
            if c.shadow is None:
                continue
            target, s = self.platforms[c.target], c.shadow
            if s.trained_until < self.t:
                self._train(s.trainer, s.pool, since=s.trained_until, full=True)
                s.trained_until = self.t
            s.quality = s.trainer.score(self.task.X_test, self.task.y_test)
            c.leverage = normalised_leverage(target.quality, s.quality, self.naive_quality)
            if c.spec.lever in (Lever.PLANT_SIGNAL, Lever.PLANT_FEATURE_ONLY):
                c.signal_success = levers.signal_success(
                    target.trainer.predict, self.task.X_test, self.task.y_test,
                    self.trigger(c), c.spec.signal.target,
                )  # fmt: skip

    def account_costs(self) -> None:
        """Acting members pay this step's cost of acting (who paid what)."""
        for c in self.collectives:
            if c.active:
                c.cost += float(c.acting.sum()) * self.member_cost(c, self.platforms[c.target])

    def bargain(self) -> None:
        """Running campaigns with fresh leverage bargain with their target (Nash)."""
        every = self.spec.measurement.counterfactual_every
        if every == 0 or self.t % every != every - 1:
            return
        for c in self.collectives:
            if not c.active or not np.isfinite(c.leverage):
                continue
            target = self.platforms[c.target]
            users_on = int((self.users.platform == target.index).sum())
            gap = max(c.shadow.quality - self.naive_quality, 0.0) if c.shadow else 0.0
            worth = self.policy.value_of_quality * users_on * gap
            acting = int(c.acting.sum())
            position = Position(
                leverage=c.leverage,
                value_of_quality=worth,
                surplus=worth,
                member_cost=acting * self.member_cost(c, target),
                power=self.policy.bargaining_power if self.policy.bargaining_rights else 0.0,
                demand=c.spec.demand * max(int(c.members.sum()), 1),
            )
            outcome = nash_bargain(position)
            c.last_outcome = outcome
            self.bargaining_log.append(
                {
                    "step": self.t,
                    "collective": c.name,
                    "platform": target.name,
                    "leverage": c.leverage,
                    "platform_loss": position.platform_loss,
                    "member_cost": position.member_cost,
                    "dividend": outcome.dividend,
                    "response": outcome.response.name.lower(),
                    "reason": outcome.reason,
                }
            )
            if outcome.response is PlatformResponse.CONCEDE:
                c.dividend += outcome.dividend
                c.concession = True
                target.dividends_paid += outcome.dividend
                self.users.grievance[c.members, target.index] = 0.0
                self._stop(c, "demand met")

    def member_cost(self, c: Collective, target: Platform) -> float:
        """What acting costs one member per round: lost service or a worse model."""
        if c.spec.lever is Lever.BOYCOTT:
            return target.quality
        if c.shadow is not None and np.isfinite(c.shadow.quality):
            return max(c.shadow.quality - target.quality, 0.0) + 0.01
        return 0.01

    # ------------------------------------------------------------------ valuation
    def value_collectives(self, max_rows: int = 5000) -> dict[str, float]:
        """Exact Shapley value of each collective's data (all coalitions retrained).

        The game: ``V(S)`` is the held-out quality of a fresh learner (the first
        platform's kind) trained on the clean data everyone produced during the run
        that reached any platform or shadow, keeping non-members' data always and
        members' data only for collectives in ``S``. A user in several collectives
        counts for the first. Values sum to ``V(all) - V(none)``. Above ``max_rows``
        rows the game is played on a uniform subsample of them, so that 2^C refits
        stay cheap at a million users.
        """
        if not self.collectives:
            return {}
        pools = [p.pool for p in self.platforms] + [
            c.shadow.pool for c in self.collectives if c.shadow is not None
        ]
        sample = np.concatenate([q.sample for q in pools])
        contributor = np.concatenate([q.contributor for q in pools])
        step = np.concatenate([q.step for q in pools])
        key = np.unique(np.stack([sample, contributor, step], axis=1), axis=0)
        if len(key) > max_rows:
            key = key[np.sort(self.rng.choice(len(key), size=max_rows, replace=False))]
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
            learner = make_learner(kind, self.task).fit(X[keep], y[keep], self.rng)
            return learner.score(self.task.X_test, self.task.y_test)

        values = exact_shapley([c.name for c in self.collectives], value)
        for c in self.collectives:
            c.value = values[c.name]
        return values

    # ------------------------------------------------------------------ helpers
    def _initial_users(self, groups: np.ndarray) -> UserState:
        pop, spec = self.spec.population, self.spec
        n, n_platforms = self.n_users, len(spec.platforms)
        u = UserState.empty(n, n_platforms, len(spec.collectives))
        u.group = groups
        shares = np.array([p.initial_share for p in spec.platforms], float)
        u.platform = self.rng.choice(n_platforms, size=n, p=shares / shares.sum()).astype(np.int32)
        u.threshold = np.clip(self.rng.normal(pop.threshold_mean, pop.threshold_sd, n), 0.0, 1.0)
        u.grievance[:] = pop.grievance
        return u

    def _recruit_initial_members(self) -> None:
        u = self.users
        for c in self.collectives:
            pool = np.flatnonzero(u.group == c.spec.group) if c.spec.group is not None else None
            pool = np.arange(self.n_users) if pool is None else pool
            k = int(round(c.spec.size * self.n_users))
            chosen = self.rng.choice(pool, size=min(k, pool.size), replace=False)
            u.member[chosen, c.index] = True

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
        test = self.rng.permutation(task.n_test)[:max_test]
        for p in self.platforms:
            live = np.flatnonzero(p.pool.contributor >= 0)
            if live.size == 0:
                continue
            rows = self.rng.choice(live, size=min(max_rows, live.size), replace=False)
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

    def _group_class_mix(self, groups: np.ndarray) -> np.ndarray:
        if self.task.kind != "classification":
            return np.zeros((0, 0))
        owner_group = groups[self.slices.owners()]
        classes = self.task.y_train[self.slices.order]
        n_groups = int(groups.max()) + 1
        mix = np.zeros((n_groups, self.task.n_classes))
        np.add.at(mix, (owner_group, classes), 1.0)
        return mix / np.maximum(mix.sum(axis=1, keepdims=True), 1.0)

    def _new_learner(self, spec) -> Any:
        if spec.shards > 1:
            return ShardedTrainer(
                spec.shards, lambda: make_learner(spec.learner, self.task), self.rng
            )
        return make_learner(spec.learner, self.task)

    def _seed_platform(self, p: Platform) -> None:
        """The platform's own data at step 0, so its model starts above the baseline."""
        p.needs_refit = False
        k = p.spec.seed_data
        if k:
            sample = self.rng.integers(0, self.task.n_train, k)
            p.pool.add(sample, self.task.y_train[sample], -1, -1, -1, Alteration.NONE)
            p.received += k
            if isinstance(p.trainer, ShardedTrainer):
                p.trainer.fit(p.pool, self.task.X_train, self.rng)
            else:
                p.trainer.fit(p.pool.features(self.task.X_train), p.pool.y, self.rng)
        self.evaluate(p)
        p.initial_quality = p.quality

    def _launch(self, c: Collective) -> None:
        c.active = True
        if c.shadow is None:
            # The counterfactual starts as an exact copy of the target at launch.
            target = self.platforms[c.target]
            c.shadow = Shadow(
                pool=copy.deepcopy(target.pool),
                trainer=copy.deepcopy(target.trainer),
                trained_until=self.t - 1,
            )

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
