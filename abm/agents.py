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
from abm.learning import DataPool, Learner, ShardedTrainer

if TYPE_CHECKING:
    from abm.model import LeverageModel
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
        self.contribution_factor = 1.0  # an AI substitute lowers it
        self.countermeasure_cost = 0.0
        self.dividends_paid = 0.0


@dataclass
class Shadow:
    """The counterfactual target platform: as if the collective had acted normally."""

    pool: DataPool
    trainer: Learner | ShardedTrainer
    trained_until: int  # the last step whose rows the trainer has seen
    quality: float = float("nan")


class Collective(mesa.Agent):
    """A collective: its members (a column of UserState.member), a lever and a campaign."""

    def __init__(self, model: LeverageModel, index: int, spec: CollectiveSpec):
        super().__init__(model)
        self.index = index
        self.name = spec.name
        self.spec = spec
        self.target = model.spec.platform_index(spec.target)
        self.redirect = (
            model.spec.platform_index(spec.redirect_to) if spec.redirect_to is not None else None
        )
        self.scheduled = spec.start == 0  # launches at its start step unless an event does
        self.active = False
        self.ended_reason = ""
        self.turnout = 0.0  # share of members acting
        self.participation = 0.0  # share of all users acting
        self.leverage = float("nan")
        self.cost = 0.0  # members' cost of acting, cumulative
        self.dividend = 0.0  # dividend won, cumulative
        self.concession = False
        self.last_outcome: Outcome | None = None
        self.shadow: Shadow | None = None
        self.value = float("nan")  # Shapley value over collectives, when measured
        self.signal_success = float("nan")  # planted signal's success on the target
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
