"""The HTML report: self-contained, parses, states the question, the outcomes and the plots."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from abm.cli import app
from abm.report import fmt, render
from abm.runner import simulate
from abm.scenario import Scenario

QUESTION = "Does a union of most users win a dividend & at what cost?"


@pytest.fixture(scope="module")
def result():
    spec = Scenario.model_validate(
        {
            "name": "union_small",
            "question": QUESTION,
            "seed": 4,
            "steps": 12,
            "population": {
                "n_users": 150,
                "samples_per_step": 0.5,
                "threshold_mean": 0.0,
                "threshold_sd": 0.0,
            },
            "policy": {"bargaining_rights": True, "right_to_delete": True},
            "collectives": [
                {
                    "name": "union",
                    "target": "incumbent",
                    "lever": "retro_strike",
                    "size": 0.8,
                    "start": 4,
                }
            ],
            "events": [{"at": 6, "action": "change_terms", "platform": "challenger", "price": 0.2}],
        }
    )
    return simulate(spec)


class Collect(HTMLParser):
    """Collects tags, image sources, table cells and text; checks nesting."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.images: list[str] = []
        self.cells: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.errors: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http:", "https:", "//")):
                self.errors.append(f"external {key}: {attrs[key]}")
        if tag in ("td", "th"):
            self._cell = []
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def parsed(result) -> Collect:
    p = Collect()
    p.feed(render(result))
    p.close()
    return p


def test_report_parses_with_balanced_tags_and_no_external_resources(parsed) -> None:
    assert parsed.errors == []
    assert parsed.stack == []
    assert "script" not in parsed.tags and "link" not in parsed.tags


def test_report_states_the_question(parsed) -> None:
    assert QUESTION in " ".join(parsed.text)


def test_report_embeds_the_plots_as_png(parsed) -> None:
    assert len(parsed.images) >= 4  # quality, market share, participation, leverage
    for src in parsed.images:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000


def test_report_tables_hold_the_outcome_values(result, parsed) -> None:
    o = result.outcomes
    cells = set(parsed.cells)
    for key in (
        "quality_change[incumbent]",
        "final_share[challenger]",
        "peak_participation[union]",
        "mean_leverage[union]",
        "member_cost[union]",
        "unlearning_cost[incumbent]",
        "dividends_paid[incumbent]",
    ):
        assert fmt(o[key]) in cells, key
    if "value[union]" in o:
        assert fmt(o["value[union]"]) in cells
    # The initial quality is the first row of the quality series.
    assert fmt(float(result.model_table["quality[incumbent]"].iloc[0])) in cells
    # Who paid what names both sides.
    assert "members of union" in cells and "platform incumbent" in cells
    assert o["unlearning_cost[incumbent]"] > 0  # the retroactive strike made it unlearn


def test_report_gives_the_bargaining_outcome_and_timeline(result, parsed) -> None:
    text = " ".join(parsed.text)
    assert len(result.bargaining) > 0
    last = result.bargaining[result.bargaining["collective"] == "union"].iloc[-1]
    assert f"{last['response']} after" in text
    assert "step 6: change_terms on challenger (price 0.2)" in text
    assert "right_to_delete = True" in text


def test_report_numbers_are_formatted() -> None:
    assert fmt(float("nan")) == "—"
    assert fmt(0.123456) == "0.1235"
    assert fmt(2591.0) == "2591"


def test_abm_run_writes_report_html(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: tiny\nquestion: Is this readable offline?\nsteps: 4\n"
        "population: {n_users: 100}\n"
        "collectives: [{name: c, target: incumbent, size: 0.3}]\n"
    )
    result = CliRunner().invoke(app, ["run", str(scenario), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "out").iterdir()
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "Is this readable offline?" in page
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 4


def test_report_answers_in_a_sentence_with_number_and_unit(result, parsed) -> None:
    from abm.report import answers

    (sentence,) = answers(result)
    qe = result.outcomes["quality_effect[union]"]
    assert sentence.startswith("The strike with deletion of past data by union (80% of users")
    assert f"{abs(qe):.3g}" in sentence or f"{abs(qe):.2g}" in sentence
    assert "incumbent's held-out quality score" in sentence
    assert "of its gap over a naive baseline" in sentence and "utility" in sentence
    assert "(loss" not in sentence  # the round's numbers sit under the bargaining table
    text = " ".join(parsed.text)
    assert text.index(QUESTION) < text.index(sentence[:40])  # the question, then the answer


def test_report_bargaining_table_keeps_numbers_and_reason_sits_below(result, parsed) -> None:
    last = result.bargaining.iloc[-1]
    assert last["reason"] not in parsed.cells  # no reason column in the table
    assert "reason" not in parsed.cells
    text = " ".join(parsed.text)
    assert str(last["reason"]) in text  # the last round's reason, under the table
    assert text.count("is the unit") == 1  # "utility" is explained once


def _union_dividend(**overrides) -> Scenario:
    from abm.scenario import load_scenario, with_overrides

    path = Path(__file__).resolve().parents[1] / "scenarios" / "union_dividend.yaml"
    return with_overrides(load_scenario(path), {"measurement.valuation": False, **overrides})


def test_union_dividend_report_states_each_concession_with_its_range() -> None:
    run = simulate(_union_dividend(steps=16))
    conceded = run.bargaining[run.bargaining.response == "concede"]
    assert len(conceded) == 1  # the union wins once; its campaign then ends
    r = conceded.iloc[0]
    page = render(run)
    assert (
        f"conceded at step {int(r.step)} (8/step); holds for value_of_quality &gt;= "
        f"{r.flip_value_of_quality:.3g} (default 10) and bargaining_power &gt;= "
        f"{r.flip_bargaining_power:.3g} (default 0.5)"
    ) in page
    assert 0 < r.flip_value_of_quality < 10 and 0 < r.flip_bargaining_power < 0.5
    # The table's headers are words with units, not code names.
    assert "<th>credible loss to the platform (utility / step)</th>" in page
    assert "<th>platform_loss</th>" not in page and "<th>nash_dividend</th>" not in page


def test_a_refusal_says_what_value_would_have_won() -> None:
    from abm.report import verdict

    run = simulate(_union_dividend(steps=16, **{"policy.value_of_quality": 1.0}))
    assert not (run.bargaining.response == "concede").any()  # at 1 the union wins nothing
    last = run.bargaining.iloc[-1]
    text = verdict(run, run.bargaining)
    assert text.startswith(f"no concession in {len(run.bargaining)} rounds")
    assert f"value_of_quality >= {last.flip_value_of_quality:.3g} (default 1)" in text


def test_report_without_rights_says_so_and_explains_dashes() -> None:
    from abm.report import answers, possessive

    spec = Scenario.model_validate(
        {
            "name": "s", "seed": 1, "steps": 8,
            "population": {"n_users": 120, "threshold_mean": 0.0, "threshold_sd": 0.0},
            "collectives": [{"name": "strikers", "target": "incumbent", "size": 0.3}],
        }
    )  # fmt: skip
    run = simulate(spec)
    assert answers(run)[0].endswith("it won no dividend: no bargaining rights.")
    page = render(run)
    assert "no lift: the collective redirects no data" in page
    assert "strikers's" not in page and possessive("strikers") == "strikers'"
