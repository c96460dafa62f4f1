"""Invariants that hold after every step; tests check them at every step of every run.

* Users are conserved: every user is on exactly one platform or on none.
* Market shares (including "no platform") sum to one.
* Each pool holds exactly what was routed to it, minus what was deleted, expired or
  filtered out, and every live row's provenance is consistent.
* Participation never exceeds membership.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from abm.model import LeverageModel


def violations(model: LeverageModel) -> list[str]:
    """Every invariant the model's current state breaks (empty when all hold)."""
    out = []
    u, n = model.users, model.n_users
    counts = np.bincount(u.platform + 1, minlength=len(model.platforms) + 1)
    if counts.sum() != n or u.platform.min() < -1 or u.platform.max() >= len(model.platforms):
        out.append(f"users not conserved: {counts.tolist()} for {n} users")
    shares = counts / n
    if not np.isclose(shares.sum(), 1.0):
        out.append(f"shares sum to {shares.sum()}")
    for p in model.platforms:
        expected = p.received - p.deleted - p.expired - p.filtered
        if len(p.pool) != expected:
            out.append(
                f"pool of {p.name} holds {len(p.pool)} rows, routed minus removed is {expected}"
            )
        if len(p.pool) and p.pool.step.max() > model.t:
            out.append(f"pool of {p.name} has rows from the future")
    if (u.acting & ~u.member).any():
        out.append("a non-member is acting")
    return out
