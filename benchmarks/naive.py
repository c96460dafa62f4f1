"""The naive reference: LeverageModel's user phase as ordinary per-agent Mesa code.

For comparison only (``abm bench``); the project's model never imports it.

Modelling assumption: the reference covers exactly the users' decisions of one step,
as ``LeverageModel`` makes them in phases 2-3: campaigns stop, recruit (threshold
contagion plus grievance toward the target) and launch (start step and critical
mass); members act by the Granovetter threshold rule with fatigue (a tired member
leaves); each user's action follows the first collective whose campaign it acts in;
users reconsider their platform by the logit over quality, price, grievance,
neighbour shares and switching cost (boycotters leave). The platforms' published
quality and price are inputs of a step; data routing, learning, leverage and
bargaining are outside it (so a timing ratio against the whole vectorised step
understates the speed-up).

Every agent is a real Mesa agent on a cell of a Mesa ``Network`` space and finds its
neighbours through ``cell.neighborhood``. Each sub-phase runs in two passes,
``shuffle_do("decide_*")`` then ``do("commit")``, so that all agents decide on last
step's state, as the array code does; with that, and the same uniforms (arrays drawn
in the same order as the array code draws them, each agent reading its own entry), the
two produce identical decisions. Arithmetic follows the array code's dtypes (float32
neighbour shares) so that ties fall the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import mesa
import numpy as np

from abm.behaviour import NO_PLATFORM, Action
from abm.levers import LEVERS
from abm.network import to_networkx

if TYPE_CHECKING:
    from abm.model import LeverageModel

Draw = Callable[[int], np.ndarray]  # n -> n uniforms in [0, 1)


class NaiveUser(mesa.discrete_space.FixedAgent):
    """A user holding its own state as attributes, deciding by per-agent Python."""

    def __init__(
        self,
        model: NaiveModel,
        index: int,
        platform: int,
        threshold: np.float64,
        grievance: np.ndarray,
        member: list[bool],
    ):
        super().__init__(model)
        self.index = index
        self.platform = platform
        self.threshold = threshold  # a numpy float64, so float32 shares compare in float64
        self.grievance = grievance  # (P,) float64
        self.member = member  # one flag per collective
        self.acting = [False] * len(member)
        self.action = int(Action.CONTRIBUTE if platform >= 0 else Action.IDLE)
        self._next: dict[str, object] = {}

    # -------------------------------------------------------------- helpers
    def neighbours(self) -> list[NaiveUser]:
        """The users on the neighbouring cells of the network."""
        return [a for cell in self.cell.neighborhood for a in cell.agents]

    def _share(self, count: int, degree: int) -> np.float32:
        # The array code: float32 sum over neighbours times float32 1/max(degree, 1).
        return np.float32(count) * (np.float32(1.0) / np.float32(max(degree, 1)))

    # -------------------------------------------------------------- decisions
    def decide_recruit(self, c: int, u: float, rate: float) -> None:
        """Join collective ``c`` when neighbours' membership plus grievance is enough."""
        nbrs = self.neighbours()
        share = self._share(sum(n.member[c] for n in nbrs), len(nbrs))
        pull = share + self.grievance[self.model.coll[c]["target"]]  # float64, as arrays
        joins = not self.member[c] and pull >= self.threshold and u < rate
        self._next["member"] = (c, self.member[c] or joins)

    def decide_act(self, c: int, u: float) -> None:
        """Act in collective ``c``'s running campaign by the threshold rule."""
        spec, coll = self.model.cspecs[c], self.model.coll[c]
        nbrs = self.neighbours()
        share = self._share(sum(n.acting[c] for n in nbrs), len(nbrs))
        tw = spec.turnout_weight
        pressure = (1.0 - tw) * share + tw * coll["turnout"]
        was = self.acting[c]
        member = self.member[c]
        eligible = self.platform == coll["target"] or was
        tired = was and u < spec.fatigue
        acting = member and eligible and pressure >= self.threshold and not tired
        leaves = was and not acting and member and pressure >= self.threshold
        self._next["act"] = (c, acting, member and not leaves)

    def decide_platform(self, u_reconsider: float, u_choice: float) -> None:
        """Reconsider the platform by a logit over utilities (boycotters leave)."""
        m = self.model
        pop = m.spec.population
        n_platforms = len(m.quality)
        nbrs = self.neighbours()
        counts = [0] * n_platforms
        for n in nbrs:
            if n.platform >= 0:
                counts[n.platform] += 1
        inv = np.float32(1.0) / np.float32(max(len(nbrs), 1))
        share = np.array(counts, np.float32) * inv
        weighted = np.float32(pop.network_weight) * share  # float32, as in the array code
        utility = m.quality - m.price - self.grievance + weighted
        boycotting = self.action == Action.BOYCOTT
        on = self.platform >= 0
        reconsider = (u_reconsider < pop.reconsider_rate or not on) and not boycotting
        choice = self.platform
        if reconsider:
            leaving = np.array([on and j != self.platform for j in range(n_platforms)])
            v = pop.rationality * (utility - m.switching_cost * leaving)
            top = v.max()
            w = np.exp(v - (top if np.isfinite(top) else 0.0))
            cum = np.cumsum(w)
            total = cum[-1]
            if total <= 0:
                choice = NO_PLATFORM
            else:
                hits = np.flatnonzero(u_choice * total < cum)
                choice = int(hits[0]) if hits.size else 0
        if boycotting:
            choice = NO_PLATFORM
        self._next["platform"] = choice

    def commit(self) -> None:
        """Second pass: apply what was decided on last step's state."""
        nxt = self._next
        if "member" in nxt:
            c, value = nxt.pop("member")
            self.member[c] = value
        if "act" in nxt:
            c, acting, member = nxt.pop("act")
            self.acting[c] = acting
            self.member[c] = member
        if "platform" in nxt:
            self.platform = nxt.pop("platform")
            if self.platform < 0 and self.action != Action.BOYCOTT:
                self.action = int(Action.IDLE)

    def settle_action(self) -> None:
        """The action of this step: the lever of the first collective acted in."""
        action = int(Action.CONTRIBUTE if self.platform >= 0 else Action.IDLE)
        for c, acting in enumerate(self.acting):
            if acting:
                action = int(LEVERS[self.model.cspecs[c].lever].action)
                break
        self.action = action


class NaiveModel(mesa.Model):
    """The users of a LeverageModel, copied into per-agent Mesa code.

    Args:
        source: A freshly built LeverageModel whose graph and initial user state are copied.
        seed: Seed of Mesa's own ``random`` (used by ``shuffle_do`` only; the order in
            which agents are visited cannot change an outcome).
    """

    def __init__(self, source: LeverageModel, seed: int = 0):
        super().__init__(rng=seed)
        self.spec = source.spec
        self.cspecs = [c.spec for c in source.collectives]
        self.coll = [
            {
                "target": c.target,
                "active": c.active,
                "scheduled": c.scheduled,
                "ended": c.ended_reason,
                "turnout": c.turnout,
            }
            for c in source.collectives
        ]
        self.switching_cost = self.spec.population.switching_cost * (
            1.0 - source.policy.portability
        )
        self.t = -1
        self.grid = mesa.discrete_space.Network(
            to_networkx(source.adjacency), layout=None, random=self.random
        )
        u = source.users
        self.users: list[NaiveUser] = []
        for i in range(source.n_users):
            a = NaiveUser(
                self,
                i,
                int(u.platform[i]),
                u.threshold[i],
                u.grievance[i].copy(),
                [bool(x) for x in u.member[i]],
            )
            a.cell = self.grid[i]
            self.users.append(a)
        self.quality = np.zeros(len(source.platforms))
        self.price = np.zeros(len(source.platforms))

    def step_users(self, quality: np.ndarray, price: np.ndarray, draw: Draw) -> None:
        """One step of the users' phase, on the platforms' published quality and price.

        Args:
            quality: (P,) quality each platform published at the start of the step.
            price: (P,) price each platform published.
            draw: Gives the next array of n uniforms, in the array code's order.
        """
        self.t += 1
        self.quality = np.asarray(quality, float)
        self.price = np.asarray(price, float)
        n = len(self.users)
        agents = self.agents.select(agent_type=NaiveUser)
        # Campaigns stop, recruit and launch.
        for c, (spec, coll) in enumerate(zip(self.cspecs, self.coll, strict=True)):
            if coll["active"] and spec.stop is not None and self.t >= spec.stop:
                coll.update(active=False, scheduled=False, ended="reached its stop step")
                for a in self.users:
                    a.acting[c] = False
            if spec.recruit_rate > 0 and not coll["ended"]:
                u = draw(n)
                rate = spec.recruit_rate
                agents.shuffle_do(lambda a, c=c, u=u, r=rate: a.decide_recruit(c, u[a.index], r))
                agents.do("commit")
            ready = coll["scheduled"] or self.t >= spec.start
            mass = np.mean([a.member[c] for a in self.users]) >= spec.critical_mass
            if not coll["active"] and not coll["ended"] and ready and mass:
                coll["active"] = True
        # Members decide whether to act.
        for c, coll in enumerate(self.coll):
            if not coll["active"]:
                for a in self.users:
                    a.acting[c] = False
                coll["turnout"] = 0.0  # nobody acts once a campaign stops
                continue
            u = draw(n)
            agents.shuffle_do(lambda a, c=c, u=u: a.decide_act(c, u[a.index]))
            agents.do("commit")
            members = max(sum(a.member[c] for a in self.users), 1)
            coll["turnout"] = sum(a.acting[c] for a in self.users) / members
        agents.do("settle_action")
        # Users reconsider their platform.
        u_reconsider, u_choice = draw(n), draw(n)
        agents.shuffle_do(lambda a: a.decide_platform(u_reconsider[a.index], u_choice[a.index]))
        agents.do("commit")

    # -------------------------------------------------------------- read-outs
    def state(self) -> dict[str, np.ndarray]:
        """The users' state as arrays (platform, action, member, acting)."""
        return {
            "platform": np.array([a.platform for a in self.users], np.int32),
            "action": np.array([a.action for a in self.users], np.int8),
            "member": np.array([a.member for a in self.users], bool).reshape(len(self.users), -1),
            "acting": np.array([a.acting for a in self.users], bool).reshape(len(self.users), -1),
        }


def model_state(model: LeverageModel) -> dict[str, np.ndarray]:
    """The same read-out from a LeverageModel's arrays."""
    u = model.users
    return {
        "platform": u.platform.copy(),
        "action": u.action.copy(),
        "member": u.member.copy(),
        "acting": u.acting.copy(),
    }


class RecordingRng:
    """A proxy of a numpy Generator that appends the uniforms it gives to a shared log."""

    def __init__(self, rng: np.random.Generator, log: list[np.ndarray]):
        self._rng = rng
        self.log = log

    def random(self, *args, **kwargs):  # noqa: D102
        out = self._rng.random(*args, **kwargs)
        self.log.extend(np.array(out, copy=True).reshape(-1, out.shape[-1]))  # row by row
        return out

    def __getattr__(self, name):
        return getattr(self._rng, name)


def record_user_draws(model: LeverageModel) -> list[np.ndarray]:
    """Make ``model`` record the uniforms its users' phase draws, in order.

    ``LeverageModel`` draws its users' uniforms from ``model.draw(...)`` streams inside
    ``update_campaigns``, ``decide_actions`` and ``choose_platforms``; while those run,
    the streams are wrapped so that the naive reference can replay the same arrays.
    """
    log: list[np.ndarray] = []
    recording = [False]
    draw = model.draw

    def recording_draw(*args, **kwargs):
        rng = draw(*args, **kwargs)
        return RecordingRng(rng, log) if recording[0] else rng

    model.draw = recording_draw
    for name in ("update_campaigns", "decide_actions", "choose_platforms"):
        method = getattr(model, name)

        def wrapped(*args, _m=method, **kwargs):
            recording[0] = True
            try:
                return _m(*args, **kwargs)
            finally:
                recording[0] = False

        setattr(model, name, wrapped)
    return log


def replay(arrays: list[np.ndarray]) -> Draw:
    """A ``draw`` that hands out recorded arrays in order (checking their length)."""
    it = iter(arrays)

    def draw(n: int) -> np.ndarray:
        out = next(it)
        if out.shape != (n,):
            raise ValueError(f"recorded draw has shape {out.shape}, expected ({n},)")
        return out

    return draw


def fresh(rng: np.random.Generator) -> Draw:
    """A ``draw`` of fresh uniforms from ``rng`` (for timing)."""
    return lambda n: rng.random(n)
