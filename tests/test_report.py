"""The HTML report: self-contained, parses, states the question, the outcomes and the plots."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest
import yaml
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


def test_report_embeds_the_plots_as_svg(parsed) -> None:
    assert len(parsed.images) >= 4  # quality, market share, participation, leverage
    for src in parsed.images:
        assert src.startswith("data:image/svg+xml;base64,")
        root = ElementTree.fromstring(base64.b64decode(src.split(",", 1)[1]))
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 10


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
    assert len(re.findall(r'src="data:image/svg\+xml;base64,', page)) >= 4


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
    # The answer at the top says it too.
    from abm.report import answers

    assert (
        f"(the platform conceded at step {int(r.step)}, a verdict that holds for "
        f"value_of_quality >= {r.flip_value_of_quality:.3g} (default 10))"
    ) in answers(run)[0]
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


# --------------------------------------------------------------------------- words


def test_plurals_and_possessives_follow_the_name() -> None:
    from abm.viz import series
    from abm.words import plural, possessive

    assert [plural(n, "collective") for n in (0, 1, 2)] == [
        "0 collectives", "1 collective", "2 collectives"
    ]  # fmt: skip
    assert (possessive("strikers"), possessive("union")) == ("strikers'", "union's")
    table = pd.DataFrame({"quality[incumbent]": [0.5, 0.6], "twin_quality[strikers]": [0.5, 0.7]})
    labels = [line.label for line in series.series_lines(table, "quality")]
    assert labels == ["incumbent", "without strikers' action"]


def test_one_collective_is_counted_in_the_singular(parsed) -> None:
    text = " ".join(" ".join(parsed.text).split())
    assert "1 collective," in text and "1 collectives" not in text
    assert "2 platforms," in text and "150 users," in text


# --------------------------------------------------------------------------- overrides


def test_asked_about_finds_the_files_value_in_the_question() -> None:
    from abm.report import asked_about

    q = "How much of the gap does a strike by 30% of its users remove over 20 steps at acme?"
    assert asked_about(q, 0.3, 0.4) == "asked about 30% of its users; this run: 40%"
    assert asked_about(q, 20, 12) == "asked about 20; this run: 12"
    assert asked_about(q, "acme", "rival") == "asked about acme; this run: rival"
    assert asked_about(q, 0.25, 0.4) is None  # not in the question
    assert asked_about(q, 3, 4) is None  # "30%" is not "3"
    assert asked_about(q, True, False) is None


def test_report_of_an_overridden_run_shows_the_files_value_next_to_the_question(
    tmp_path: Path,
) -> None:
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "data_strike.yaml"
    out = tmp_path / "out"
    args = ["run", str(scenario), "--steps", "3", "--out", str(out), "--set",
            "collectives.strikers.size=0.4", "--set", "population.n_users=60"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (folder,) = out.iterdir()
    page = (folder / "report.html").read_text(encoding="utf-8")
    question = "a strike by 30% of its users"
    assert question in page  # the file's question, kept as written
    changes = re.search(r"<p class=changes>(.*?)</p>", page, re.S).group(1)
    assert "Asked about 30% of its users; this run: 40%." in changes
    for said in ("collectives.strikers.size: 0.3 in the file, 0.4 in this run",
                 "population.n_users: 500 in the file, 60 in this run",
                 "steps: 30 in the file, 3 in this run"):  # fmt: skip
        assert said in changes
    assert page.index(question) < page.index("<p class=changes>") < page.index("class=answer")
    assert "The strike by strikers (40% of users at the start)" in page  # the run's size
    assert "The strike by strikers (40% of users at the start)" in result.stdout
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text())
    assert manifest["changed_from_file"]["collectives.strikers.size"] == {"file": 0.3, "run": 0.4}


def test_report_of_a_run_as_filed_shows_no_changes(parsed) -> None:
    assert "differs from its file" not in " ".join(parsed.text)


# --------------------------------------------------------------------------- interventions


def _mandate(question: str) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "mandate", "question": question, "seed": 3, "steps": 8,
            "population": {"n_users": 120, "switching_cost": 1.0, "reconsider_rate": 0.3},
            "events": [
                {"at": 1, "action": "change_terms", "platform": "incumbent", "price": 0.5},
                {"at": 3, "action": "set_policy", "policy": {"portability": 1.0}},
            ],
            "measurement": {"valuation": False},
        }
    )  # fmt: skip


def test_steps_to_counts_from_the_event() -> None:
    from abm.report import steps_to

    effect = pd.Series([0.0, 0.0, 0.0, 0.0, -0.1, -0.3, -0.38, -0.4])  # event at step 3
    assert steps_to(effect, 3, 0.5) == 2  # row 5 is the second step under the event
    assert steps_to(effect, 3, 0.9) == 3
    assert steps_to(pd.Series([0.0, 0.0]), 0, 0.5) is None  # nothing moved


def test_a_policy_without_collectives_is_answered_against_the_run_without_it() -> None:
    from abm.report import answers

    run = simulate(_mandate("Does the mandate let users leave, and how fast?"))
    o = run.outcomes
    said = answers(run)
    assert len(said) == 3  # one sentence per platform, then how fast
    moved = o["intervention_share_effect[incumbent]"]
    final = o["final_share[incumbent]"]
    assert moved < 0
    assert said[0].startswith(
        "Against the same run without its interventions (portability = 1.0 from step 3), "
        "incumbent's market share"
    )
    assert f"ended at {100 * final:.2g}%" in said[0] or f"ended at {100 * final:.0f}%" in said[0]
    assert f"{100 * moved:+.3g} percentage points" in said[0]
    effect = (
        run.model_table["share[incumbent]"]
        - run.model_table["share_without_interventions[incumbent]"]
    )
    from abm.report import steps_to

    half = steps_to(effect, 3, 0.5)
    assert said[2].startswith("How fast: incumbent's market share had moved half")
    assert f"{half} step{'s' * (half != 1)} after the first one (step 3)" in said[2]
    page = render(run)
    assert "Against the same run without its interventions</h2>" in page
    assert "with its campaign switched off" not in page  # the collectives' twin paragraph
    assert "No collectives in this scenario" not in page
    assert fmt(moved) in page


def test_a_question_not_about_time_gets_no_timing() -> None:
    from abm.report import answers, asks_when

    assert asks_when("How fast does it move?") and asks_when("When does the share cross?")
    assert not asks_when("How much does the mandate move shares?")
    run = simulate(_mandate("How much does the mandate move shares?"))
    assert not any(s.startswith("How fast") for s in answers(run))


# --------------------------------------------------------------------------- layout


def test_report_tables_fit_a_1280_px_page(tmp_path: Path) -> None:
    from abm.viz.server import CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run 'sudo apt-get install -y chromium'")
    collectives = [
        {"name": f"collective_number_{i}", "target": "incumbent", "lever": lever, "size": 0.1,
         "redirect_to": "challenger" if lever == "cdc" else None}
        for i, lever in enumerate(["strike", "cdc", "boycott", "poison_labels", "plant_signal"])
    ]  # fmt: skip
    spec = Scenario.model_validate(
        {"name": "wide", "seed": 2, "steps": 3, "population": {"n_users": 80},
         "collectives": collectives, "measurement": {"valuation": False}}
    )  # fmt: skip
    _assert_fits_1280(simulate(spec), tmp_path)


def test_bargaining_tables_fit_a_1280_px_page(tmp_path: Path) -> None:
    from abm.bargaining import ROUND_COLUMNS
    from abm.report import ROUND_TABLES

    shown = {name for names in ROUND_TABLES for name in names}
    assert shown == set(ROUND_COLUMNS) - {"reason"}  # every round column is shown
    run = simulate(_union_dividend(steps=16))
    assert len(run.bargaining) and (run.bargaining["response"] == "concede").any()
    _assert_fits_1280(run, tmp_path)


def _assert_fits_1280(run, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from abm.viz.server import CHROMIUM, CHROMIUM_ARGS

    page_file = tmp_path / "report.html"
    page_file.write_text(render(run), encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_file.as_uri())
        width = page.evaluate("document.documentElement.scrollWidth")
        rights = page.evaluate(
            "Array.from(document.querySelectorAll('table')).map(t => "
            "t.getBoundingClientRect().right)"
        )
        browser.close()
    assert width <= 1280
    assert len(rights) >= 4 and max(rights) <= 1280, rights
