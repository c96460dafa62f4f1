"""The social network as a picture: who uses which platform and what they do with data.

The assumption: a picture of at most ``MAX_NODES`` users is enough to see leverage
form. Larger populations are drawn as a fixed subsample (the induced subgraph of a
seeded draw, independent of the model's rng so watching never changes a run). The
layout is a force-directed (Fruchterman-Reingold) layout started from a circle in id
order, vectorised with numpy, computed once per graph and cached by the graph's
content; stepping only recolours the same points, so it stays fast at 1,000 users.

Encoding: face colour is the user's platform (grey: none), the marker is the action
of the step (:class:`abm.behaviour.Action`), a coloured ring and a larger marker show
membership of a collective, and edges between two members of the same collective
take that collective's colour.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from abm.behaviour import Action

if TYPE_CHECKING:
    from abm.model import LeverageModel

MAX_NODES = 1000
PLATFORM_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf")
COLLECTIVE_COLOURS = ("#111111", "#d62728", "#e377c2", "#bcbd22", "#7f7f7f")
NO_PLATFORM_COLOUR = "#cfcfcf"

# Marker and legend label of each action.
ACTION_STYLE: dict[Action, tuple[str, str]] = {
    Action.CONTRIBUTE: ("o", "contributing"),
    Action.WITHHOLD: ("X", "striking (withholding)"),
    Action.BOYCOTT: ("v", "boycotting"),
    Action.REDIRECT: (">", "contributing consciously (CDC)"),
    Action.POISON: ("P", "poisoning"),
    Action.PLANT: ("*", "planting a signal"),
    Action.IDLE: (".", "no platform"),
}


@dataclass(frozen=True)
class Layout:
    """Positions of the drawn users and the edges among them."""

    nodes: np.ndarray  # int, the users drawn (all of them up to MAX_NODES)
    pos: np.ndarray  # (len(nodes), 2) float32 positions in [0, 1]
    edges: np.ndarray  # (m, 2) int, edges as positions into ``nodes``


_CACHE: OrderedDict[str, Layout] = OrderedDict()
_CACHE_SIZE = 8


def graph_key(adj: sp.csr_array, max_nodes: int = MAX_NODES) -> str:
    """A digest of the graph's structure: equal graphs share a cached layout."""
    h = hashlib.blake2b(digest_size=16)
    h.update(np.array([adj.shape[0], max_nodes], np.int64).tobytes())
    h.update(np.ascontiguousarray(adj.indptr).tobytes())
    h.update(np.ascontiguousarray(adj.indices).tobytes())
    return h.hexdigest()


def layout_for(adj: sp.csr_array, max_nodes: int = MAX_NODES) -> Layout:
    """The cached layout of a graph (computed on first use)."""
    key = graph_key(adj, max_nodes)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    out = compute_layout(adj, max_nodes)
    _CACHE[key] = out
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return out


def compute_layout(adj: sp.csr_array, max_nodes: int = MAX_NODES, iterations: int = 60) -> Layout:
    """Lay out the graph (or a seeded subsample of ``max_nodes`` users).

    Args:
        adj: Symmetric adjacency matrix.
        max_nodes: Largest number of users drawn.
        iterations: Force-directed iterations after the spectral start.

    Returns:
        The layout; deterministic for a given graph.
    """
    n = adj.shape[0]
    rng = np.random.default_rng(0)  # the viewer's own draws: never the model's rng
    if n > max_nodes:
        nodes = np.sort(rng.choice(n, size=max_nodes, replace=False))
        sub = sp.csr_array(adj[nodes][:, nodes])
    else:
        nodes = np.arange(n)
        sub = sp.csr_array(adj)
    upper = sp.triu(sub, k=1).tocoo()
    edges = np.column_stack([upper.row, upper.col]).astype(np.int64)
    pos = _circle_start(sub.shape[0], rng)
    pos = fruchterman_reingold(pos, edges, iterations)
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    pos = (pos - lo) / np.maximum(hi - lo, 1e-9)
    return Layout(nodes=nodes, pos=pos.astype(np.float32), edges=edges)


def _circle_start(n: int, rng: np.random.Generator) -> np.ndarray:
    """Users on a circle in id order, slightly jittered.

    Deterministic, unlike a spectral start (ARPACK draws its own random start vector),
    and a good start for ring-like graphs whose communities are arcs of ids.
    """
    angle = 2.0 * np.pi * np.arange(n) / max(n, 1)
    circle = 0.5 + 0.5 * np.column_stack([np.cos(angle), np.sin(angle)])
    return (circle + 0.01 * rng.random((n, 2))).astype(np.float32)


def fruchterman_reingold(pos: np.ndarray, edges: np.ndarray, iterations: int) -> np.ndarray:
    """Fruchterman-Reingold force-directed layout, all pairs at once with numpy.

    Args:
        pos: (n, 2) starting positions.
        edges: (m, 2) undirected edges.
        iterations: Cooling steps.

    Returns:
        (n, 2) float32 positions.
    """
    pos = pos.astype(np.float32).copy()
    n = pos.shape[0]
    if n < 2:
        return pos
    k = np.float32(1.0 / np.sqrt(n))
    temperature = 0.1
    cool = temperature / (iterations + 1)
    i, j = edges[:, 0], edges[:, 1]
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        dist2 = np.einsum("ijk,ijk->ij", delta, delta)
        np.maximum(dist2, 1e-6, out=dist2)
        disp = np.einsum("ijk,ij->ik", delta, (k * k) / dist2)  # repulsion between all pairs
        e = pos[i] - pos[j]
        pull = e * (np.sqrt((e * e).sum(axis=1)) / k)[:, None]  # attraction along edges
        for d in range(2):
            disp[:, d] -= np.bincount(i, pull[:, d], minlength=n)
            disp[:, d] += np.bincount(j, pull[:, d], minlength=n)
        length = np.maximum(np.sqrt((disp * disp).sum(axis=1)), 0.01)
        pos += disp * (temperature / length)[:, None]
        temperature -= cool
    return pos


def network_figure(model: LeverageModel, figsize: tuple[float, float] = (7.0, 5.6)) -> Figure:
    """The network at the model's current step (uses the cached layout).

    Args:
        model: The model; reads ``users`` arrays, ``adjacency``, platforms, collectives.
        figsize: Figure size in inches.

    Returns:
        A figure not registered with pyplot (nothing to close).
    """
    lay = layout_for(model.adjacency)
    u = model.users
    nodes, pos = lay.nodes, lay.pos
    platform = u.platform[nodes]
    action = u.action[nodes]
    member = u.member[nodes]
    n_coll = member.shape[1]
    # The ring shows the first collective (scenario order) the user belongs to.
    ring = (
        np.where(member.any(axis=1), member.argmax(axis=1), -1)
        if n_coll
        else np.full(nodes.size, -1)
    )

    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.set_axis_off()

    segments = pos[lay.edges]
    edge_colour = np.full((lay.edges.shape[0], 4), (0.6, 0.6, 0.6, 0.25), dtype=float)
    edge_width = np.full(lay.edges.shape[0], 0.4)
    for c in range(n_coll):
        inside = member[lay.edges[:, 0], c] & member[lay.edges[:, 1], c]
        edge_colour[inside] = _rgba(COLLECTIVE_COLOURS[c % len(COLLECTIVE_COLOURS)], 0.55)
        edge_width[inside] = 0.9
    ax.add_collection(LineCollection(segments, colors=edge_colour, linewidths=edge_width, zorder=1))

    palette = np.array(
        [_rgba(PLATFORM_COLOURS[p % len(PLATFORM_COLOURS)]) for p in range(len(model.platforms))]
        + [_rgba(NO_PLATFORM_COLOUR)]
    )
    face = palette[np.where(platform >= 0, platform, len(model.platforms))]
    ring_palette = np.array(
        [_rgba(COLLECTIVE_COLOURS[c % len(COLLECTIVE_COLOURS)]) for c in range(n_coll)]
        + [(1.0, 1.0, 1.0, 0.9)]
    )
    edge = ring_palette[np.where(ring >= 0, ring, n_coll)]
    base = 22.0 if nodes.size > 300 else 45.0
    size = np.where(ring >= 0, 1.8 * base, base)
    width = np.where(ring >= 0, 1.1, 0.3)
    for act, (marker, _) in ACTION_STYLE.items():
        sel = action == act
        if not sel.any():
            continue
        scale = 2.0 if act is not Action.CONTRIBUTE else 1.0  # rarer actions stand out
        ax.scatter(
            pos[sel, 0],
            pos[sel, 1],
            s=size[sel] * scale,
            c=face[sel],
            marker=marker,
            edgecolors=edge[sel],
            linewidths=width[sel],
            zorder=3 if act is Action.CONTRIBUTE else 4,
        )
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.03, 1.03)
    shown = (
        f"{nodes.size} of {model.n_users} users"
        if nodes.size < model.n_users
        else f"{model.n_users} users"
    )
    ax.set_title(f"Social network, step {model.steps} ({shown})", fontsize=10)
    ax.legend(
        handles=_legend(model, set(np.unique(action).tolist())),
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=7.5,
        frameon=False,
    )
    return fig


def _legend(model: LeverageModel, present: set[int]) -> list[Line2D]:
    handles = []
    for p in model.platforms:
        colour = PLATFORM_COLOURS[p.index % len(PLATFORM_COLOURS)]
        handles.append(_handle("o", colour, "none", f"platform: {p.name}"))
    for act, (marker, label) in ACTION_STYLE.items():
        if int(act) in present or act is Action.CONTRIBUTE:
            handles.append(_handle(marker, "#999999", "none", label))
    for c in model.collectives:
        colour = COLLECTIVE_COLOURS[c.index % len(COLLECTIVE_COLOURS)]
        handles.append(_handle("o", "white", colour, f"member of {c.name} ({c.spec.lever.value})"))
    return handles


def _handle(marker: str, face: str, edge: str, label: str) -> Line2D:
    return Line2D(
        [],
        [],
        ls="none",
        marker=marker,
        markersize=7,
        markerfacecolor=face,
        markeredgecolor=edge,
        markeredgewidth=1.5 if edge != "none" else 0,
        label=label,
    )


def _rgba(colour: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    return to_rgba(colour, alpha)
