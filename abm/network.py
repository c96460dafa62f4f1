"""Social networks as sparse adjacency matrices, generated from the model's rng.

Edges are drawn with numpy straight into a symmetric CSR matrix, so building a
graph of a million users takes about a second instead of networkx's tens of seconds;
the networkx graph the Mesa ``Network`` space needs is derived from the matrix
(integer node ids). Barabasi-Albert is the exception: preferential attachment is
sequential, so it goes through networkx, seeded from the model's rng.

Groups (communities) are part of the graph: the stochastic block model has them by
construction; on a Watts-Strogatz ring, contiguous arcs are the natural communities;
on Erdos-Renyi and Barabasi-Albert graphs, which have none, groups are random.
"""

from __future__ import annotations

import functools
import re
from array import array
from pathlib import Path

import mesa
import networkx as nx
import numpy as np
import scipy.sparse as sp
from mesa.discrete_space import Cell
from mesa.discrete_space.discrete_space import DiscreteSpace

from abm.scenario import GraphKind, Network


def build_graph(cfg: Network, n: int, rng: np.random.Generator) -> tuple[sp.csr_array, np.ndarray]:
    """Build the adjacency matrix and the group of each user.

    Args:
        cfg: The scenario's network section.
        n: Number of users (ignored for edge lists, which define their own nodes).
        rng: The model's random generator; the only source of randomness.

    Returns:
        ``(adjacency, groups)``: a symmetric 0/1 CSR matrix without self-loops, and an
        int array of group ids.
    """
    k = min(cfg.mean_degree, max(n - 1, 1))
    if cfg.kind is GraphKind.WATTS_STROGATZ:
        src, dst = _ring_lattice(n, k)
        rewire = rng.random(src.size) < cfg.rewire
        dst = dst.copy()
        dst[rewire] = rng.integers(0, n, rewire.sum())
        groups = (np.arange(n) * cfg.groups) // n
    elif cfg.kind is GraphKind.ERDOS_RENYI:
        m = n * k // 2
        src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
        groups = rng.integers(0, cfg.groups, n)
    elif cfg.kind is GraphKind.SBM:
        groups = np.sort(rng.integers(0, cfg.groups, n))
        src, dst = _block_edges(groups, k, cfg.homophily, rng)
    elif cfg.kind is GraphKind.BARABASI_ALBERT:
        g = nx.barabasi_albert_graph(n, max(1, k // 2), seed=_nx_seed(rng))
        edges = np.array(g.edges(), dtype=np.int64).reshape(-1, 2)
        src, dst = edges[:, 0], edges[:, 1]
        groups = rng.integers(0, cfg.groups, n)
    elif cfg.kind is GraphKind.EDGELIST:
        src, dst, n = read_edgelist(Path(cfg.path or ""), n)
        groups = rng.integers(0, cfg.groups, n)
    else:  # pragma: no cover - the schema admits no other kind
        raise ValueError(f"unknown graph kind {cfg.kind}")
    return symmetric_adjacency(src, dst, n), groups.astype(np.int32)


def symmetric_adjacency(src: np.ndarray, dst: np.ndarray, n: int) -> sp.csr_array:
    """A symmetric 0/1 CSR matrix from directed edge lists, without self-loops."""
    keep = src != dst
    src, dst = src[keep], dst[keep]
    rows = np.concatenate([src, dst])
    cols = np.concatenate([dst, src])
    data = np.ones(rows.size, dtype=np.float32)
    adj = sp.csr_array((data, (rows, cols)), shape=(n, n))
    adj.sum_duplicates()
    adj.data[:] = 1.0
    return adj


def to_networkx(adj: sp.csr_array) -> nx.Graph:
    """The networkx graph (integer node ids 0..n-1) of an adjacency matrix."""
    g = nx.Graph()
    g.add_nodes_from(range(adj.shape[0]))
    upper = sp.triu(adj, k=1).tocoo()
    g.add_edges_from(zip(upper.row.tolist(), upper.col.tolist(), strict=True))
    return g


class CsrNetwork(mesa.discrete_space.Network):
    """Mesa's ``Network`` space built straight from a CSR adjacency matrix.

    The same cells and connections as ``Network(to_networkx(adj), layout=None)``
    (cell ``i`` for user ``i``, neighbours in ascending order), without the per-edge
    Python of building a networkx graph and connecting cells one edge at a time: a
    million users take seconds instead of a minute. The networkx graph ``G`` is built
    from the matrix the first time something (the viewer) asks for it.

    Args:
        adjacency: Symmetric CSR adjacency matrix with sorted indices.
        random: The model's ``random``.
        capacity: Cell capacity (None: unlimited).
    """

    def __init__(self, adjacency: sp.csr_array, random, capacity: int | None = None):
        DiscreteSpace.__init__(self, capacity=capacity, cell_klass=Cell, random=random)
        self._adjacency = adjacency
        self._graph: nx.Graph | None = None
        self._kdtree_cells = []
        self._kdtree = None
        n = adjacency.shape[0]
        cells = [Cell(i, capacity=capacity, random=self.random) for i in range(n)]
        self._cells = dict(enumerate(cells))
        # Each cell's neighbours, read off the CSR rows in one pass (no per-edge indexing).
        by_edge = np.empty(n, dtype=object)
        by_edge[:] = cells
        targets = by_edge[adjacency.indices].tolist()
        indptr, indices = adjacency.indptr.tolist(), adjacency.indices.tolist()
        for cell, lo, hi in zip(cells, indptr[:-1], indptr[1:], strict=True):
            cell.connections = dict(zip(indices[lo:hi], targets[lo:hi], strict=True))

    def cells(self) -> list[Cell]:
        """The cells in node order (cell ``i`` is user ``i``'s)."""
        return list(self._cells.values())

    @property
    def G(self) -> nx.Graph:  # noqa: N802 - Mesa's attribute name
        """The networkx graph of the space (built on first use)."""
        if self._graph is None:
            self._graph = to_networkx(self._adjacency)
        return self._graph

    @G.setter
    def G(self, graph: nx.Graph) -> None:  # noqa: N802
        self._graph = graph


_LABEL = re.compile(r"[A-Za-z0-9_][\w.:-]{0,63}")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def read_edgelist(path: Path, n_users: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Read a two-column edge list of node labels (whitespace- or comma-separated).

    Each line is ``a b`` or ``a b weight`` (the weight is ignored); ``#`` starts a
    comment; a UTF-8 byte-order mark at the start is skipped. Labels are letters,
    digits, ``_``, ``.``, ``:`` or ``-`` (not leading), so a negative id or a junk token
    is refused rather than read as a new node. Nodes are numbered in the sorted order of
    their labels. When ``n_users`` is given, the file must have exactly that many
    distinct nodes, so the population the scenario records is the one that runs.
    Messages give line numbers, never the file's content.

    A file of two decimal labels a line is read by numpy a block at a time; any other
    line by line, each label kept once (an edge costs 16 bytes). Either way reading
    needs memory for the graph, not for the file's text, and the two number nodes alike.

    Raises:
        ScenarioError: The file is not such an edge list.
    """
    from abm.scenario import ScenarioError

    src, dst, labels = _read_edges(str(path), *_version(path))
    if n_users is not None and labels != n_users:
        raise ScenarioError(
            path,
            "nodes",
            f"population.n_users ({n_users}) distinct nodes, got {labels}"
            f" (set population.n_users: {labels})",
        )
    return src, dst, labels


def _version(path: str | Path) -> tuple[int, int]:
    """(modification time, size): a changed file is read again."""
    try:
        info = Path(path).stat()
    except OSError:
        return 0, 0  # reading says what is wrong
    return info.st_mtime_ns, info.st_size


@functools.lru_cache(maxsize=4)
def _read_edges(path: str, mtime_ns: int, size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The edges and node count of an edge list, read once per version of the file.

    The checks before a run (its memory, each point of a sweep) and the run itself ask
    for the same file; the arrays are shared, so callers never modify them.
    """
    pairs, n = _numeric_edges(path) or _labelled_edges(path)
    src, dst = pairs[:, 0].copy(), pairs[:, 1].copy()
    src.flags.writeable = dst.flags.writeable = False
    return src, dst, n


# A block of lines holding nothing but two decimal labels (or nothing): numpy reads it.
_NUMERIC_BLOCK = re.compile(
    rb"(?:[ \t]*[0-9]{1,64}(?:[ \t]*,[ \t]*|[ \t]+)[0-9]{1,64}[ \t]*\r?\n|[ \t]*\r?\n)*"
)
_BLOCK = 1 << 23  # bytes read at a time


def _numeric_edges(path: str) -> tuple[np.ndarray, int] | None:
    """The pairs and node count of a file of two decimal labels a line, or None.

    The common edge list, read by numpy a block at a time (several times faster than
    line by line). Labels stay text, numbered in sorted text order, so the result is
    exactly :func:`_labelled_edges`'s; any other file (comments, weights, letters, a
    byte-order mark, a bad line) returns None and is read line by line, which names
    the line at fault.
    """
    from abm.scenario.load import MAX_DATA_BYTES, open_limited

    parts, rest = [], b""
    with open_limited(Path(path), MAX_DATA_BYTES, path) as raw:
        while True:
            block = raw.read(_BLOCK)
            data = rest + block if block else rest + (b"\n" if rest else b"")
            cut = data.rfind(b"\n") + 1 if block else len(data)
            if block and cut == 0 and len(data) > _BLOCK:
                return None  # a line longer than a block: not two labels
            chunk, rest = data[:cut], data[cut:]
            if chunk and not _NUMERIC_BLOCK.fullmatch(chunk):
                return None
            tokens = chunk.replace(b",", b" ").split()
            if tokens:
                parts.append(np.array(tokens))
            if not block:
                break
    if not parts:
        return None
    labels, inverse = np.unique(np.concatenate(parts), return_inverse=True)
    return inverse.astype(np.int64).reshape(-1, 2), labels.size


def _labelled_edges(path: str) -> tuple[np.ndarray, int]:
    """The pairs and node count of any edge list, line by line (messages name the line)."""
    from abm.scenario import ScenarioError
    from abm.scenario.load import MAX_DATA_BYTES, open_limited

    ids: dict[str, int] = {}  # label -> id in order of first appearance
    first_line: list[int] = []  # the line each label first appears on
    ends = array("q")  # src, dst, src, dst, ...
    with open_limited(Path(path), MAX_DATA_BYTES, path) as raw:
        for number, data in enumerate(raw, start=1):
            try:
                line = data.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                where = f"line {number}"
                raise ScenarioError(
                    path, where, "UTF-8 text (an edge list), got binary data"
                ) from None
            if "#" in line:
                line = line.split("#", 1)[0]
            tokens = line.replace(",", " ").split()
            if not tokens:
                continue
            if len(tokens) not in (2, 3):
                raise ScenarioError(
                    path,
                    f"line {number}",
                    f"two node labels (and an optional weight), got {len(tokens)} columns",
                )
            if len(tokens) == 3 and not _NUMBER.fullmatch(tokens[2]):
                raise ScenarioError(
                    path, f"line {number}", "a number as the third column (a weight)"
                )
            for token in tokens[:2]:
                node = ids.get(token)
                if node is None:
                    node = ids[token] = len(ids)
                    first_line.append(number)
                ends.append(node)
    labels = list(ids)
    _check_labels(path, labels, first_line)
    if not ends:
        raise ScenarioError(path, "", "an edge list (no edges found: two columns of node ids)")
    # Number nodes in sorted label order (as np.unique would), whatever the file's order.
    rank = np.empty(len(labels), dtype=np.int64)
    rank[sorted(range(len(labels)), key=labels.__getitem__)] = np.arange(len(labels))
    return rank[np.frombuffer(ends, dtype=np.int64)].reshape(-1, 2), len(labels)


def _check_labels(path: Path, labels: list[str], first_line: list[int]) -> None:
    """Every label is usable; the first bad one is named by the line it appears on."""
    from abm.scenario import ScenarioError

    bad = [i for i, label in enumerate(labels) if not _LABEL.fullmatch(label)]
    if bad:
        i = min(bad, key=first_line.__getitem__)
        what = "a negative id" if _NUMBER.fullmatch(labels[i]) else "an unusable token"
        raise ScenarioError(
            path,
            f"line {first_line[i]}",
            f"node labels (letters, digits, '_', '.', ':', '-'), got {what}",
        )


def _ring_lattice(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    half = max(1, k // 2)
    src = np.repeat(np.arange(n, dtype=np.int64), half)
    dst = (src + np.tile(np.arange(1, half + 1), n)) % n
    return src, dst


def _block_edges(
    groups: np.ndarray, k: int, homophily: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    n = groups.size
    m = n * k // 2
    src = rng.integers(0, n, m)
    inside = rng.random(m) < homophily
    # Members of a group are contiguous (groups is sorted): draw a partner inside the block.
    starts = np.searchsorted(groups, groups, side="left")
    ends = np.searchsorted(groups, groups, side="right")
    dst = rng.integers(0, n, m)
    s = src[inside]
    dst[inside] = starts[s] + (rng.random(s.size) * (ends[s] - starts[s])).astype(np.int64)
    return src, dst


def _nx_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))
