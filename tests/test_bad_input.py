"""Malformed scenario files: one line on stderr naming file, field and expectation; exit 2.

Every case goes through the real command line (``abm run FILE --out DIR``) and checks
that nothing was written: the output folder must not even be created.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from abm.cli import app

BASE = """\
name: base
steps: 10
population: {n_users: 100}
platforms:
  - {name: incumbent, initial_share: 0.7}
  - {name: challenger, initial_share: 0.3}
"""

# (case id, file text, extra --set overrides, field named, words of the expectation)
CASES: list[tuple[str, str, list[str], str, list[str]]] = [
    ("bad_yaml", "name: x\n  steps: [1,\n", [], "line 2", ["valid YAML"]),
    ("not_a_mapping", "just a sentence\n", [], "(top level)", ["a mapping", "got str"]),
    ("binary", "\x00\x01binary", [], "character 0", ["YAML text"]),
    (  # longer than a file name may be: no such file, not an OSError
        "extends_name_too_long",
        f"extends: {'x' * 300}\n",
        [],
        "extends",
        ["a scenario file or a reference scenario"],
    ),
    (
        "unknown_top_field",
        "extends: base.yaml\npopulaton: {n_users: 10}\n",
        [],
        "populaton",
        ["no such field", "did you mean 'population'"],
    ),
    (
        "unknown_nested_field",
        "extends: base.yaml\npopulation: {n_user: 10}\n",
        [],
        "population.n_user",
        ["no such field", "did you mean 'n_users'"],
    ),
    (
        "wrong_type",
        "extends: base.yaml\npopulation: {n_users: many}\n",
        [],
        "population.n_users",
        ["a whole number", "'many'"],
    ),
    (
        "fractional_int",
        "extends: base.yaml\npopulation: {n_users: 1.5}\n",
        [],
        "population.n_users",
        ["a whole number", "1.5"],
    ),
    (
        "not_a_bool",
        "extends: base.yaml\npolicy: {right_to_delete: maybe}\n",
        [],
        "policy.right_to_delete",
        ["true or false", "'maybe'"],
    ),
    (
        "out_of_range",
        "extends: base.yaml\npopulation: {reconsider_rate: 1.5}\n",
        [],
        "population.reconsider_rate",
        ["<= 1.0", "1.5"],
    ),
    (
        "negative_size",
        "extends: base.yaml\ncollectives: [{name: u, target: incumbent, size: -0.2}]\n",
        [],
        "collectives[0].size",
        [">= 0.0", "-0.2"],
    ),
    ("zero_steps", "extends: base.yaml\nsteps: 0\n", [], "steps", [">= 1", "got 0"]),
    ("extends_cycle", "extends: cycle_b.yaml\n", [], "extends", ["no cycle", "cycle_b.yaml"]),
    (
        "extends_missing",
        "extends: nothere.yaml\n",
        [],
        "extends",
        ["an existing scenario file", "nothere.yaml"],
    ),
    (
        "event_unknown_collective",
        "extends: base.yaml\ncollectives: [{name: u, target: incumbent}]\n"
        "events: [{at: 3, action: launch, collective: union}]\n",
        [],
        "events[0].collective",
        ["a known collective", "'union'"],
    ),
    (
        "event_at_last_step",
        "extends: base.yaml\n"
        "events: [{at: 10, action: set_policy, policy: {right_to_delete: true}}]\n",
        [],
        "events[0].at",
        ["0 to steps - 1 = 9", "got 10"],
    ),
    (
        "event_unknown_action",
        "extends: base.yaml\nevents: [{at: 2, action: explode}]\n",
        [],
        "events[0].action",
        ["one of", "'explode'"],
    ),
    (
        "event_unknown_policy",
        "extends: base.yaml\n"
        "events: [{at: 2, action: set_policy, policy: {right_to_forget: true}}]\n",
        [],
        "events[0].policy.right_to_forget",
        ["no such field", "did you mean 'right_to_delete'"],
    ),
    (
        "event_shock_without_platform",
        "extends: base.yaml\nevents: [{at: 2, action: ai_substitute}]\n",
        [],
        "events[0].platform",
        ["a platform name"],
    ),
    (
        "data_path_outside_project",
        "extends: base.yaml\ntask: {name: csv, path: ../../../../../../etc/passwd}\n",
        [],
        "task.path",
        ["a file inside the scenario's root"],
    ),
    (
        "edgelist_absolute_outside",
        "extends: base.yaml\nnetwork: {kind: edgelist, path: /etc/hosts}\n",
        [],
        "network.path",
        ["a file inside the scenario's root", "/etc/hosts"],
    ),
    (
        "missing_required",
        "extends: base.yaml\nplatforms: [{initial_share: 1.0}]\n",
        [],
        "platforms[0].name",
        ["required"],
    ),
    (
        "unknown_graph_kind",
        "extends: base.yaml\nnetwork: {kind: small_world}\n",
        [],
        "network.kind",
        ["one of", "'small_world'"],
    ),
    (
        "collective_unknown_platform",
        "extends: base.yaml\ncollectives: [{name: u, target: incumbnt}]\n",
        [],
        "collectives[0].target",
        ["a known platform", "did you mean 'incumbent'"],
    ),
    (
        "cdc_without_destination",
        "extends: base.yaml\ncollectives: [{name: u, target: incumbent, lever: cdc}]\n",
        [],
        "collectives[0].redirect_to",
        ["a platform name for lever cdc"],
    ),
    (
        "cdc_to_unknown_platform",
        "extends: base.yaml\n"
        "collectives: [{name: u, target: incumbent, lever: cdc, redirect_to: commons}]\n",
        [],
        "collectives[0].redirect_to",
        ["a known platform", "'commons'"],
    ),
    (
        "duplicate_names",
        "steps: 5\nplatforms: [{name: incumbent}, {name: incumbent}]\n",
        [],
        "platforms[1].name",
        ["a unique name"],
    ),
    (
        "group_out_of_range",
        "extends: base.yaml\nnetwork: {groups: 2}\n"
        "collectives: [{name: u, target: incumbent, group: 5}]\n",
        [],
        "collectives[0].group",
        ["< network.groups (2)", "got 5"],
    ),
    (
        "signal_label_out_of_range",
        "extends: base.yaml\ntask: {name: wine}\n"
        "collectives: [{name: u, target: incumbent, lever: plant_signal, signal: {target: 7}}]\n",
        [],
        "collectives[0].signal.target",
        ["0 to 2", "got 7"],
    ),
    (
        "signal_label_beyond_stream_classes",
        "extends: base.yaml\ntask: {name: stream, stream: {n_classes: 20}}\n"
        "collectives: [{name: u, target: incumbent, lever: plant_signal, signal: {target: 25}}]\n",
        [],
        "collectives[0].signal.target",
        ["0 to 19", "got 25"],
    ),
    (
        "signal_label_huge",
        "extends: base.yaml\ntask: {name: csv, path: base.yaml, label_column: y}\n"
        "collectives: [{name: u, target: incumbent, lever: plant_signal,"
        " signal: {target: 100000000000000000000}}]\n",
        [],
        "collectives[0].signal.target",
        ["<= 9999"],
    ),
    (
        "promote_item_on_a_classification_task",
        "extends: base.yaml\ntask: {name: wine}\n"
        "collectives: [{name: u, target: incumbent, lever: promote_item, item: 3}]\n",
        [],
        "collectives[0].lever",
        ["promote_item needs a ratings task", "wine"],
    ),
    (
        "promoted_item_beyond_the_catalogue",
        "extends: base.yaml\ntask: {name: ratings_stream, stream: {n_items: 50}}\n"
        "collectives: [{name: u, target: incumbent, lever: promote_item, item: 50}]\n",
        [],
        "collectives[0].item",
        ["0 to 49", "got 50"],
    ),
    (
        "steps_true",
        "extends: base.yaml\nsteps: true\n",
        [],
        "steps",
        ["a whole number, got true"],
    ),
    (
        "number_as_text",
        "extends: base.yaml\npopulation: {n_users: '100'}\n",
        [],
        "population.n_users",
        ["a whole number, got '100'"],
    ),
    (
        "bool_as_yes",
        "extends: base.yaml\npolicy: {right_to_delete: yes}\n",
        [],
        "policy.right_to_delete",
        ["true or false, got 'yes'"],
    ),
    (
        "event_price_infinite",
        "extends: base.yaml\n"
        "events: [{at: 2, action: change_terms, platform: incumbent, price: .inf}]\n",
        [],
        "events[0].price",
        ["a finite number, got inf"],
    ),
    (
        "price_nan",
        "extends: base.yaml\nplatforms: [{name: incumbent, price: .nan}]\n",
        [],
        "platforms[0].price",
        ["a finite number, got nan"],
    ),
    (
        "event_policy_bool_for_share",
        "extends: base.yaml\nevents: [{at: 2, action: set_policy, policy: {portability: true}}]\n",
        [],
        "events[0].policy.portability",
        ["a number, got true"],
    ),
    (
        "value_holding_a_pipe",
        "extends: base.yaml\ncollectives: [{name: u, target: 'a|b'}]\n",
        [],
        "collectives[0].target",
        ["a known platform", "got 'a|b'"],
    ),
    (
        "platforms_not_a_list",
        "extends: base.yaml\nplatforms: {name: a}\n",
        [],
        "platforms",
        ["type list"],
    ),
    (
        "set_unknown_item",
        "extends: base.yaml\ncollectives: [{name: strikers, target: incumbent}]\n",
        ["collectives.strker.size=0.5"],
        "--set collectives.strker",
        ["a known item", "did you mean 'strikers'"],
    ),
    (
        "set_not_an_assignment",
        "extends: base.yaml\n",
        ["steps"],
        "--set steps",
        ["path.to.field=value"],
    ),
    (
        "set_out_of_range",
        "extends: base.yaml\ncollectives: [{name: strikers, target: incumbent}]\n",
        ["collectives.strikers.size=2"],
        "collectives[0].size",
        ["<= 1.0", "got 2"],
    ),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "cycle_b.yaml").write_text("extends: extends_cycle.yaml\n")
    return tmp_path


def invoke(args: list[str]):
    return CliRunner().invoke(app, args)


def assert_one_line(result, file: Path, field: str, words: list[str]) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith(f"abm: {file}: "), line
    assert f": {field}: " in line, line
    for w in words:
        assert w in line, (w, line)
    return line


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_file_is_one_line_exit_2_and_writes_nothing(folder: Path, case) -> None:
    name, text, sets, field, words = case
    path = folder / f"{name}.yaml"
    path.write_text(text)
    out = folder / "out"
    args = ["run", str(path), "--out", str(out)]
    for s in sets:
        args += ["--set", s]
    result = invoke(args)
    assert_one_line(result, path, field, words)
    assert not out.exists()


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    result = invoke(["run", str(path), "--out", str(tmp_path / "out")])
    assert_one_line(result, path, "(top level)", ["an existing file"])
    assert not (tmp_path / "out").exists()


def test_validate_command_reports_the_same_line(folder: Path) -> None:
    path = folder / "bad.yaml"
    path.write_text("extends: base.yaml\npopulation: {n_user: 10}\n")
    result = invoke(["validate", str(path)])
    assert_one_line(result, path, "population.n_user", ["did you mean 'n_users'"])


def test_compare_with_a_bad_file_writes_nothing(folder: Path) -> None:
    good = folder / "base.yaml"
    bad = folder / "bad.yaml"
    bad.write_text("extends: base.yaml\nnetwork: {kind: small_world}\n")
    out = folder / "cmp"
    result = invoke(["compare", str(good), str(bad), "--replicates", "2", "--out", str(out)])
    assert_one_line(result, bad, "network.kind", ["'small_world'"])
    assert not out.exists()


def test_at_least_fifteen_cases() -> None:
    assert len(CASES) >= 15
