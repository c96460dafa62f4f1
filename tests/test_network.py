"""Graph generators: seeded, symmetric, the requested size and degree, communities."""

from __future__ import annotations

import numpy as np
import pytest

from abm.network import build_graph, read_edgelist, to_networkx
from abm.scenario import GraphKind, Network


@pytest.mark.parametrize("kind", ["watts_strogatz", "barabasi_albert", "erdos_renyi", "sbm"])
def test_generators_are_seeded_symmetric_and_sized(kind):
    cfg = Network(kind=kind, mean_degree=6, groups=3)
    a, groups_a = build_graph(cfg, 500, np.random.default_rng(1))
    b, groups_b = build_graph(cfg, 500, np.random.default_rng(1))
    c, _ = build_graph(cfg, 500, np.random.default_rng(2))
    assert a.shape == (500, 500)
    assert (a != a.T).nnz == 0
    assert a.diagonal().sum() == 0
    assert (a != b).nnz == 0 and (groups_a == groups_b).all()
    assert (a != c).nnz > 0
    mean_degree = a.sum() / 500
    assert 4 <= mean_degree <= 7
    assert set(np.unique(groups_a)) <= {0, 1, 2}


def test_sbm_is_homophilous():
    cfg = Network(kind=GraphKind.SBM, mean_degree=10, groups=4, homophily=0.9)
    adj, groups = build_graph(cfg, 2000, np.random.default_rng(0))
    coo = adj.tocoo()
    inside = (groups[coo.row] == groups[coo.col]).mean()
    assert inside > 0.8


def test_edgelist_file(tmp_path):
    path = tmp_path / "edges.txt"
    path.write_text("# a triangle and a tail\na b\nb c\nc a\nc d\n")
    src, dst, n = read_edgelist(path)
    assert n == 4
    cfg = Network(kind=GraphKind.EDGELIST, path=str(path))
    adj, _ = build_graph(cfg, 4, np.random.default_rng(0))
    assert adj.shape == (4, 4) and adj.sum() == 8


def test_networkx_view_has_integer_nodes_and_same_edges():
    adj, _ = build_graph(Network(), 300, np.random.default_rng(0))
    g = to_networkx(adj)
    assert sorted(g.nodes) == list(range(300))
    assert g.number_of_edges() * 2 == adj.nnz


@pytest.mark.parametrize("block", [64, 1 << 23])
def test_numeric_edge_lists_read_by_numpy_equal_the_line_by_line_reader(
    tmp_path, block, monkeypatch
):
    """The fast path (two decimal labels a line) numbers nodes exactly as the general one:
    labels are text, so 007 and 7 are two nodes and 10 sorts before 9."""
    import abm.network as network

    monkeypatch.setattr(network, "_BLOCK", block)
    rng = np.random.default_rng(0)
    pairs, widths = rng.integers(0, 10**5, (3000, 2)), rng.integers(1, 8, 3000)
    text = "".join(f"{a:0{w}d},{b}\r\n" if w % 2 else f"{a:0{w}d}  {b}\n"
                   for (a, b), w in zip(pairs, widths, strict=True))  # fmt: skip
    path = tmp_path / "e.txt"
    path.write_text(text + "\n   \n7 007", newline="")
    fast = network._numeric_edges(str(path))
    assert fast is not None
    slow = network._labelled_edges(str(path))
    assert fast[1] == slow[1] and np.array_equal(fast[0], slow[0])
    for other in ("0 1\n# a comment\n", "0 1 0.5\n", "a b\n", "\ufeff0 1\n", "0 -1\n", ""):
        path.write_text(other)
        assert network._numeric_edges(str(path)) is None  # read line by line instead
