"""Random streams: every draw of a run, named by what it is for.

Every random draw of a step comes from a stream named by (root seed, step, what is
drawn, which platform or collective), never from one generator shared in sequence, and
draws over users are taken for every user whatever anyone decided. So two worlds of
one run (the real world and a twin, ``abm/twins.py``) see the same coin flips for the
same user, platform and step: common random numbers.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Draw(IntEnum):
    """What a random stream is for: one stream per purpose, step and key."""

    SETUP_USERS = 1
    SETUP_MEMBERS = 2
    SETUP_PLATFORM = 3
    RECRUIT = 10
    ACT = 11
    RECONSIDER = 12
    DATA = 13
    ALTER = 14
    SUBSTITUTE = 15
    UNLEARN = 16
    TRAIN = 17
    SEND = 18  # which rows a lever that sends only some of them sends
    VALUATION = 30


def root_seed(seed: object, rng: np.random.Generator) -> int:
    """The integer every stream of a run derives from.

    An integer seed is its own root (so ``--seed 3`` and ``rng=3`` name the same run);
    a generator, or no seed, gives one draw from the model's generator.
    """
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
        return int(seed)
    return int(rng.integers(2**63))


def stream(root: int, step: int, draw: Draw, *key: int) -> np.random.Generator:
    """The generator for one purpose at one step."""
    return np.random.default_rng([root, step + 1, int(draw), *key])
