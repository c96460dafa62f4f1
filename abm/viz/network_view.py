"""The social network as a picture: who uses which platform and what they do with data.

The assumption: a picture of at most ``MAX_NODES`` users is enough to see leverage
form. Larger populations are drawn as a fixed subsample (the induced subgraph of a
seeded draw, independent of the model's rng so watching never changes a run). The
layout is by community: communities are found once (Louvain, seeded), each is laid out
on its own by a force-directed (Fruchterman-Reingold) layout vectorised with numpy and
placed on a ring of communities in id order, so a 1,000-node small world reads as a
chain of clusters instead of a hairball. It is computed once per graph and cached by
the graph's content.

Encoding: a user acting in a collective is drawn with its lever's marker and colour
(:data:`abm.levers.LEVERS`), larger and on top; everyone else by what it does (a circle
contributing, a dot on no platform) in its platform's colour (grey: none), members
larger with a ring in their collective's colour, bystanders small and faint, so a
strike shows as a field of red crosses. Every drawn user is in exactly one layer: a
lever's, or its action's. Edges between two members of the same collective take that
collective's colour.

:class:`LiveNetwork` is what the viewer uses: edges, legend and title are drawn once
(:class:`abm.viz.plots.Blitter`) and each step redraws only the users' markers; the
static part is redrawn only when membership or the set of actions shown changes.
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

from abm.agents import User
from abm.behaviour import Action
from abm.levers import LEVERS

if TYPE_CHECKING:
    from abm.model import LeverageModel

MAX_NODES = 1000
PLATFORM_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf")
COLLECTIVE_COLOURS = ("#111111", "#d62728", "#e377c2", "#bcbd22", "#7f7f7f")
NO_PLATFORM_COLOUR = "#cfcfcf"

# Marker and legend label of what users not acting in a collective do; a user acting
# in one is drawn as its lever's registry entry says.
ACTION_STYLE: dict[Action, tuple[str, str]] = {
    Action.CONTRIBUTE: ("o", "contributing"),
    Action.IDLE: (".", "no platform"),
}


@dataclass(frozen=True)
class Layout:
    """Positions of the drawn users and the edges among them."""

    nodes: np.ndarray  # int, the users drawn (all of them up to MAX_NODES)
    pos: np.ndarray  # (len(nodes), 2) float32 positions in [0, 1]
    edges: np.ndarray  # (m, 2) int, edges as positions into ``nodes``
    community: np.ndarray  # (len(nodes),) int, the community of each drawn user


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
    community = communities(sub)
    pos = community_layout(edges, community, iterations, rng)
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    pos = (pos - lo) / np.maximum((hi - lo).max(), 1e-9)  # keep the aspect ratio
    pos += (1.0 - pos.max(axis=0)) / 2  # centre the shorter side
    return Layout(nodes=nodes, pos=pos.astype(np.float32), edges=edges, community=community)


def communities(adj: sp.csr_array) -> np.ndarray:
    """Community of each node (Louvain, seeded), numbered by their lowest node id."""
    import networkx as nx

    graph = nx.from_scipy_sparse_array(adj)
    found = nx.community.louvain_communities(graph, seed=0)
    found = sorted(found, key=min)
    label = np.empty(adj.shape[0], dtype=np.int64)
    for c, members in enumerate(found):
        label[list(members)] = c
    return label


def community_layout(
    edges: np.ndarray, community: np.ndarray, iterations: int, rng: np.random.Generator
) -> np.ndarray:
    """Each community laid out on its own, the communities placed around a ring.

    A community of ``s`` users gets a disc of radius proportional to ``sqrt(s)``; discs
    follow each other around the ring in community order, so neighbouring communities
    of a small world (arcs of ids) sit next to each other.
    """
    n = community.size
    pos = np.zeros((n, 2), dtype=np.float32)
    n_comm = int(community.max()) + 1 if n else 0
    sizes = np.bincount(community, minlength=n_comm)
    radius = np.sqrt(sizes) / np.sqrt(max(sizes.max(initial=1), 1))
    gap = 1.15
    circumference = gap * 2 * radius.sum()
    ring = circumference / (2 * np.pi) if n_comm > 1 else 0.0
    angle = 2 * np.pi * (np.cumsum(gap * 2 * radius) - gap * radius) / max(circumference, 1e-9)
    inside = community[edges[:, 0]] == community[edges[:, 1]] if len(edges) else np.zeros(0, bool)
    for c in range(n_comm):
        members = np.flatnonzero(community == c)
        local = np.full(n, -1)
        local[members] = np.arange(members.size)
        own = edges[inside & (community[edges[:, 0]] == c)]
        sub = fruchterman_reingold(_circle_start(members.size, rng), local[own], iterations)
        sub = _sunflower(sub)
        centre = ring * np.array([np.cos(angle[c]), np.sin(angle[c])])
        pos[members] = centre + radius[c] * sub
    return pos


def _sunflower(pos: np.ndarray) -> np.ndarray:
    """Spread a community's points evenly over the unit disc, keeping their arrangement.

    A force-directed layout of a small-world community is a thin curve; the disc is
    filled by a sunflower (Vogel) spiral whose points are assigned in the order of the
    layout's angle around its centre, so neighbours stay near each other.
    """
    n = pos.shape[0]
    if n < 2:
        return np.zeros((n, 2), dtype=np.float32)
    centred = pos - pos.mean(axis=0)
    order = np.lexsort((np.hypot(centred[:, 0], centred[:, 1]),
                        np.arctan2(centred[:, 1], centred[:, 0])))  # fmt: skip
    k = np.arange(n)
    r = np.sqrt((k + 0.5) / n)
    theta = k * np.pi * (3 - np.sqrt(5))
    spiral = np.column_stack([r * np.cos(theta), r * np.sin(theta)])
    # The spiral's points sorted by angle receive the layout's points sorted by angle.
    slots = np.lexsort((r, np.mod(theta, 2 * np.pi)))
    out = np.empty((n, 2), dtype=np.float32)
    out[order] = spiral[slots]
    return out


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


class LiveNetwork:
    """The network of a running model, redrawn per step by updating only the markers.

    Args:
        model: The model; reads its ``User`` agents, ``adjacency``, platforms, collectives.
        figsize: Figure size in inches.
        dpi: Pixels per inch of the frames.
    """

    def __init__(self, model: LeverageModel, figsize: tuple[float, float] = (7.0, 5.2),
                 dpi: int = 90):  # fmt: skip
        from abm.viz.plots import Blitter

        self.model = model
        self.lay = lay = layout_for(model.adjacency)
        fig = Figure(figsize=figsize)
        self.ax = ax = fig.add_axes((0.01, 0.01, 0.70, 0.92))
        ax.set_axis_off()
        ax.set_xlim(-0.03, 1.03)
        ax.set_ylim(-0.03, 1.03)
        self.edges = LineCollection(lay.pos[lay.edges], linewidths=0.4, zorder=1)
        ax.add_collection(self.edges)
        # One layer per bystander action, then one per lever the collectives use.
        self.kinds = [*ACTION_STYLE, *dict.fromkeys(c.rule.id for c in model.collectives)]
        self.layers = [
            ax.scatter(np.empty(0), np.empty(0), marker=_marker(kind), animated=True,
                       zorder=3 if kind in ACTION_STYLE else 5)
            for kind in self.kinds
        ]  # fmt: skip
        lever_layer = [self.kinds.index(c.rule.id) for c in model.collectives]
        self.lever_layer = np.array(lever_layer, np.int64)
        self.lever_colour = np.array([_rgba(c.rule.colour) for c in model.collectives])
        n_shown, n = lay.nodes.size, model.n_users
        shown = f"{n_shown} of {n} users" if n_shown < n else f"{n} users"
        ax.set_title(f"Social network ({shown}), laid out by community", fontsize=10)
        colours = [PLATFORM_COLOURS[p % len(PLATFORM_COLOURS)] for p in range(len(model.platforms))]
        self.palette = np.array([_rgba(c) for c in [*colours, NO_PLATFORM_COLOUR]])
        self.base = 14.0 if lay.nodes.size > 300 else 32.0
        self.blit = Blitter(fig, dpi)
        self.figure = fig
        self._membership: bytes | None = None
        self._legend_kinds: set[int] = set()
        # The drawn users as Mesa agents, in the layout's order: what each frame reads.
        drawn = set(lay.nodes.tolist())
        self.users = model.agents_by_type[User].select(lambda a: a.index in drawn)
        self.users.sort("index", ascending=True, inplace=True)

    def read_users(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The drawn users' platform, collective acted in and memberships, from their agents."""
        users, n_coll = self.users, len(self.model.collectives)
        platform = np.fromiter(users.get("platform"), np.int64, len(users))
        actor = np.fromiter(users.get("actor"), np.int64, len(users))
        member = np.array(users.get("member"), bool).reshape(len(users), n_coll)
        return platform, actor, member

    def update(self) -> None:
        """Move the model's current state into the artists (no drawing)."""
        lay, model = self.lay, self.model
        nodes = lay.nodes
        platform, actor, member = self.read_users()
        n_coll = member.shape[1]
        if member.tobytes() != self._membership:  # recruitment or dropping out
            self._membership = member.tobytes()
            self.edges.set_colors(_edge_colours(lay.edges, member))
            self.edges.set_linewidths(_edge_widths(lay.edges, member))
            self.blit.invalidate()
        acting = actor >= 0
        bystander = np.where(platform >= 0, 0, 1)  # ACTION_STYLE's order: contributing, idle
        kind = np.where(acting, self.lever_layer[np.maximum(actor, 0)] if n_coll else 0, bystander)
        present = set(np.unique(kind).tolist()) | {0}
        if not present <= self._legend_kinds:
            self._legend_kinds |= present
            shown = [self.kinds[k] for k in sorted(self._legend_kinds)]
            self.ax.legend(handles=_legend(model, shown), loc="upper left",
                           bbox_to_anchor=(1.0, 1.0), fontsize=7.5, frameon=False)  # fmt: skip
            self.blit.invalidate()
        ring = np.where(member.any(axis=1), member.argmax(axis=1), -1) if n_coll else np.full(
            nodes.size, -1)  # fmt: skip
        face = self.palette[np.where(platform >= 0, platform, len(model.platforms))].copy()
        if acting.any():
            face[acting] = self.lever_colour[actor[acting]]
        ring_palette = np.array(
            [_rgba(COLLECTIVE_COLOURS[c % len(COLLECTIVE_COLOURS)]) for c in range(n_coll)]
            + [(1.0, 1.0, 1.0, 0.0)]
        )
        edge = ring_palette[np.where(ring >= 0, ring, n_coll)]
        is_member = ring >= 0
        face[~is_member & ~acting, 3] = 0.45  # bystanders recede
        size = np.where(acting, 2.4, np.where(is_member, 1.5, 0.9)) * self.base
        width = np.where(is_member, 0.8, 0.0)
        for k, layer in enumerate(self.layers):
            sel = kind == k
            layer.set_offsets(lay.pos[sel])
            layer.set_facecolors(face[sel])
            layer.set_edgecolors(edge[sel])
            layer.set_sizes(size[sel])
            layer.set_linewidths(width[sel])

    def png(self) -> bytes:
        """The network at the model's current step, as PNG bytes."""
        self.update()
        return self.blit.png()


def _edge_colours(edges: np.ndarray, member: np.ndarray) -> np.ndarray:
    colour = np.full((edges.shape[0], 4), (0.6, 0.6, 0.6, 0.22), dtype=float)
    for c in range(member.shape[1]):
        inside = member[edges[:, 0], c] & member[edges[:, 1], c]
        colour[inside] = _rgba(COLLECTIVE_COLOURS[c % len(COLLECTIVE_COLOURS)], 0.3)
    return colour


def _edge_widths(edges: np.ndarray, member: np.ndarray) -> np.ndarray:
    inside = (member[edges[:, 0]] & member[edges[:, 1]]).any(axis=1) if member.size else np.zeros(
        edges.shape[0], bool)  # fmt: skip
    return np.where(inside, 0.8, 0.4)


def _marker(kind: Action | str) -> str:
    """The marker of a bystander action or of a lever (by id)."""
    return ACTION_STYLE[kind][0] if kind in ACTION_STYLE else LEVERS[kind].marker


def _legend(model: LeverageModel, kinds: list[Action | str]) -> list[Line2D]:
    handles = []
    for p in model.platforms:
        colour = PLATFORM_COLOURS[p.index % len(PLATFORM_COLOURS)]
        handles.append(_handle("o", colour, "none", f"platform: {p.name}"))
    for kind in kinds:
        if kind in ACTION_STYLE:
            handles.append(_handle(ACTION_STYLE[kind][0], "#999999", "none", ACTION_STYLE[kind][1]))
        else:
            lever = LEVERS[kind]
            handles.append(_handle(lever.marker, lever.colour, "none", f"acting: {lever.words}"))
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
