"""Invariants that hold after every step; tests check them at every step of every run.

Each one is a check a bug could break (``tests/test_invariants.py`` plants a fault for
each and sees it caught):

* **Platforms in range**: every user is on a platform that exists, or on none (-1).
* **Actions fit platforms**: a user on no platform is idle or boycotting; a user on a
  platform does something with its data (contributes, withholds, redirects, alters).
* **Pools add up**: each pool holds exactly what was routed to it, minus what was
  deleted, expired or filtered out; its own bookkeeping agrees.
* **Provenance**: every live row was made by a user that exists (or is the platform's
  own seed data), at a step that has happened; altered rows were sent by a collective's
  acting member; members whose data was deleted and who still act have no rows left
  on the target.
* **Campaigns**: only members act, and only in running campaigns; in a twin world the
  collective it switches off never runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from abm.behaviour import Action
from abm.learning import Alteration

if TYPE_CHECKING:
    from abm.model import LeverageModel


def violations(model: LeverageModel) -> list[str]:
    """Every invariant the model's current state breaks (empty when all hold)."""
    return _users(model) + _pools(model) + _campaigns(model)


def _users(model: LeverageModel) -> list[str]:
    u, out = model.users, []
    if u.platform.min() < -1 or u.platform.max() >= len(model.platforms):
        out.append(f"platform index out of range: {u.platform.min()}..{u.platform.max()}")
    off = u.platform < 0
    if not np.isin(u.action[off], (Action.IDLE, Action.BOYCOTT)).all():
        out.append("a user on no platform contributes")
    if (u.action[~off] == Action.IDLE).any():
        out.append("a user on a platform is idle")
    return out


def _pools(model: LeverageModel) -> list[str]:
    out = []
    for p in model.platforms:
        pool = p.pool
        expected = p.received - p.deleted - p.expired - p.filtered
        if len(pool) != expected:
            out.append(f"pool of {p.name} holds {len(pool)} rows, routed minus removed {expected}")
        if pool.n_added - pool.n_deleted - pool.n_expired != len(pool):
            out.append(f"pool of {p.name}: its bookkeeping disagrees with its size")
        if len(pool) == 0:
            continue
        if pool.contributor.min() < -1 or pool.contributor.max() >= model.n_users:
            out.append(f"pool of {p.name} has a row made by no user")
        if pool.step.max() > model.t:
            out.append(f"pool of {p.name} has rows from the future")
        altered = pool.alteration != Alteration.NONE
        if (pool.collective[altered] < 0).any():
            out.append(f"pool of {p.name} has an altered row sent by no collective")
    for c in model.collectives:
        still = np.flatnonzero(c.erased & c.acting)
        target = model.platforms[c.target].pool
        if still.size and np.isin(target.contributor, still).any():
            out.append(f"{c.name}: deleted members still have rows on {c.spec.target}")
    return out


def _campaigns(model: LeverageModel) -> list[str]:
    u, out = model.users, []
    if (u.acting & ~u.member).any():
        out.append("a non-member is acting")
    for c in model.collectives:
        if u.acting[:, c.index].any() and not c.active:
            out.append(f"{c.name}: members act in a campaign that is not running")
        if c.off and c.active:
            out.append(f"{c.name}: runs in the twin that switches it off")
    return out
