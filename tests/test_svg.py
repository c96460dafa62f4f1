"""A run's SVG figures: well-formed, one path per line, the same lines as matplotlib's."""

from __future__ import annotations

import math
import re
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from abm.viz import series, svg

NS = "{http://www.w3.org/2000/svg}"


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "step": [0, 1, 2, 3, 4],
            "quality[incumbent]": [0.5, 0.6, 0.65, 0.7, 0.72],
            "quality[challenger]": [0.4, np.nan, 0.5, 0.55, 0.56],
            "twin_quality[strikers]": [np.nan, 0.6, np.nan, 0.74, 0.75],
            "share[incumbent]": [0.8, 0.7, 0.6, 0.6, 0.6],
        }
    )


def _paths(doc: str) -> list[ElementTree.Element]:
    root = ElementTree.fromstring(doc)
    return [p for p in root.iter(f"{NS}path") if p.get("stroke", "").startswith("#") and
            p.get("stroke") != "#000" and p.get("stroke") != "#333"]  # fmt: skip


def test_each_line_is_one_path_in_its_colour_with_its_legend_entry() -> None:
    doc = svg.series_svg(_table(), "quality")
    lines = series.series_lines(_table(), "quality")
    assert [ln.label for ln in lines] == ["incumbent", "challenger", "without strikers' action"]
    drawn = _paths(doc)
    # Each line twice: its data and its legend sample, in the same colour and dash.
    assert [p.get("stroke") for p in drawn] == [ln.colour for ln in lines] * 2
    assert [p.get("stroke-dasharray") is not None for p in drawn[:3]] == [False, False, True]
    texts = [t.text for t in ElementTree.fromstring(doc).iter(f"{NS}text")]
    assert {"Model quality per platform", "held-out quality", "step"} <= set(texts)
    assert {ln.label for ln in lines} <= set(texts)


def test_a_missing_value_leaves_a_gap_and_the_twin_is_carried_forward() -> None:
    doc = svg.series_svg(_table(), "quality")
    incumbent, challenger, twin = (p.get("d") for p in _paths(doc)[:3])
    assert incumbent.count("M") == 1 and incumbent.count("L") == 4
    assert challenger.count("M") == 2 and challenger.count("L") == 2  # NaN at step 1
    assert twin.count("M") == 1 and twin.count("L") == 3  # from step 1, forward-filled


def test_points_land_where_their_values_are() -> None:
    table = _table()
    doc = svg.series_svg(table, "market_share")
    (share,) = _paths(doc)[:1]
    points = re.findall(r"([\d.]+) ([\d.]+)", share.get("d"))
    xs, ys = (float(x) for x, _ in points), (float(y) for _, y in points)
    xs, ys = list(xs), list(ys)
    x_max, lo, hi = svg.limits(series.series_lines(table, "market_share"), "market_share")
    assert lo == 0.0 and x_max == 4.0  # a share's axis starts at zero
    # Higher shares are drawn higher (smaller y), later steps further right.
    assert xs == sorted(xs) and ys[0] < ys[1] < ys[2] == ys[3]


def test_names_from_a_scenario_are_escaped() -> None:
    table = pd.DataFrame({"share[a<b&\x1b[31m]": [0.1, 0.2]})
    doc = svg.series_svg(table, "market_share")
    ElementTree.fromstring(doc)  # still well-formed XML
    assert "\x1b" not in doc and "a&lt;b&amp;" in doc


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [(0.0, 30.0, [0, 5, 10, 15, 20, 25, 30]), (0.41, 0.89, [0.5, 0.6, 0.7, 0.8])],
)
def test_ticks_are_round_numbers_inside_the_range(lo, hi, expected) -> None:
    ticks = svg.nice_ticks(lo, hi, 7 if hi > 1 else 6)
    assert ticks == pytest.approx(expected)
    assert [svg.tick_label(t, ticks[1] - ticks[0]) for t in ticks[:2]] == [
        f"{expected[0]:g}", f"{expected[1]:g}"
    ]  # fmt: skip


def test_tick_labels_have_the_decimals_their_step_needs() -> None:
    assert svg.tick_label(0.25, 0.25) == "0.25"
    assert svg.tick_label(-1e-17, 0.1) == "0"
    assert svg.tick_label(1500.0, 500.0) == "1500"
    assert math.isclose(float(svg.tick_label(0.075, 0.025)), 0.075)
