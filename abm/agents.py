"""The Mesa agents: users, platforms and collectives.

Users are many, so their state lives in arrays owned by the model
(:class:`UserState`); a :class:`User` agent is an index-only view on those arrays and
costs nothing per step. The viewer, agent reporters and any per-agent code still see
ordinary Mesa agents sitting on the cells of the network space. Platforms and
collectives are few and keep their own state as attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

from abm.bargaining import Outcome
from abm.behaviour import Action
from abm.learning import Alteration, DataPool, Learner, ShardedTrainer
from abm.twins import Effects

if TYPE_CHECKING:
    from abm.model import LeverageModel
    from abm.routing import Contributions
    from abm.scenario import Collective as CollectiveSpec
    from abm.scenario import Platform as PlatformSpec


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


class User(mesa.discrete_space.FixedAgent):
    """A user on a node of the social network; a view on row ``index`` of UserState."""

    def __init__(self, model: LeverageModel, index: int):
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
    def memberships(self) -> list[str]:
        """Names of the collectives this user belongs to."""
        row = self.model.users.member[self.index]
        return [c.name for c, m in zip(self.model.collectives, row, strict=True) if m]

    @property
    def contributed(self) -> int:
        """Samples this user has contributed so far."""
        return int(self.model.users.contributed[self.index])


class Platform(mesa.Agent):
    """A platform: an embedded learner retrained on the data routed to it."""

    def __init__(
        self,
        model: LeverageModel,
        index: int,
        spec: PlatformSpec,
        trainer: Learner | ShardedTrainer,
    ):
        super().__init__(model)
        self.index = index
        self.name = spec.name
        self.spec = spec
        self.price = spec.price
        self.trainer = trainer  # the learner, or a SISA trainer of per-shard learners
        self.pool = DataPool(label_dtype=model.task.y_train.dtype)
        self.needs_refit = False  # deletions or expiry make an incremental update inexact
        self.quality = 0.0
        self.initial_quality = 0.0
        self.group_quality = np.zeros(0)  # quality as experienced by each user group
        self.received = 0  # samples routed here, cumulative
        self.deleted = 0  # samples removed by deletion requests, cumulative
        self.expired = 0  # samples dropped by the retention window, cumulative
        self.filtered = 0  # samples dropped by poison filtering, cumulative
        self.new_samples = 0  # samples routed here this step
        self.unlearning_cost = 0  # samples retrained because of deletions, cumulative
        self.substitute: float | None = None  # an AI substitute's quality, once released
        self.countermeasure_cost = 0.0  # filtering and incentives, cumulative (utility)
        self.step_cost = 0.0  # what countermeasures and dividends cost this step (utility)
        self.dividends_paid = 0.0  # cumulative (utility)
        self.revenue = 0.0  # this step's revenue, net of step_cost (utility per step)
        self.discount = 0.0  # price cut offered this step while a campaign targets it

    @property
    def sharded(self) -> bool:
        """Whether the platform trains SISA shards (deletion retrains one shard)."""
        return isinstance(self.trainer, ShardedTrainer)

    def seed(self, sample: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        """Start from the platform's own data (no contributor) and fit on it."""
        self.pool.add(sample, y, -1, -1, -1, Alteration.NONE)
        self.received += sample.size
        self._fit(rng)

    def receive(self, batch: Contributions, rows: np.ndarray) -> None:
        """Take this step's ``rows`` of ``batch``, filtering suspected poison if it pays to."""
        self.received += rows.size
        if self.spec.filter_poison and rows.size and self.trainer.is_fitted:
            # Countermeasure: drop rows whose label the current model disputes.
            disputed = self.trainer.predict(batch.features(rows)) != batch.y_sent[rows]
            self.filtered += int(disputed.sum())
            self.pay(self.spec.filter_cost)
            rows = rows[~disputed]
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

    def pay(self, amount: float, dividend: bool = False) -> None:
        """A cost this step: a dividend, or a countermeasure (filtering, incentives)."""
        self.step_cost += amount
        if dividend:
            self.dividends_paid += amount
        else:
            self.countermeasure_cost += amount

    def book(self, gross: float) -> None:
        """Close the step's books: revenue is what users paid and earned, net of costs."""
        self.revenue = gross - self.step_cost
        self.step_cost = 0.0


class Collective(mesa.Agent):
    """A collective: its members (a column of UserState.member), a lever and a campaign."""

    def __init__(self, model: LeverageModel, index: int, spec: CollectiveSpec, off: bool = False):
        super().__init__(model)
        self.index = index
        self.name = spec.name
        self.spec = spec
        self.target = model.spec.platform_index(spec.target)
        self.redirect = (
            model.spec.platform_index(spec.redirect_to) if spec.redirect_to is not None else None
        )
        self.off = off  # switched off in this (twin) world: never launches
        self.scheduled = spec.start == 0  # launches at its start step unless an event does
        self.active = False
        self.ended_reason = ""
        self.turnout = 0.0  # share of members acting
        self.participation = 0.0  # share of all users acting
        self.effects = Effects()  # this step's effects against the collective's twin
        self.cost = 0.0  # members' cost of acting while active, cumulative (utility)
        self.dividend_rate = 0.0  # dividend per step the target agreed to pay (utility)
        self.dividend = 0.0  # dividend won, cumulative (utility)
        self.concession = False
        self.last_outcome: Outcome | None = None
        self.round_loss: list[float] = []  # platform's loss per step since the last round
        self.round_cost: list[float] = []  # members' cost per step since the last round
        self.futile_rounds = 0  # consecutive rounds in which acting cost more than it hurt
        self.value = float("nan")  # Shapley value over collectives, when measured
        self.signal_success = float("nan")  # planted signal's success on the target
        self.natural_success = float("nan")  # the same, in the collective's twin
        self.trigger = None  # the signal's trigger, chosen at first use
        self.erased = np.zeros(model.n_users, bool)  # members whose data was deleted

    @property
    def members(self) -> np.ndarray:
        """Bool mask over users: who belongs to this collective."""
        return self.model.users.member[:, self.index]

    @property
    def acting(self) -> np.ndarray:
        """Bool mask over users: who acts in this collective's campaign this step."""
        return self.model.users.acting[:, self.index]
