"""The naive per-agent Mesa reference against the vectorised model, and `abm bench --json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from abm.behaviour import Action
from abm.bench import bench_scenario, load_naive, run_bench
from abm.model import LeverageModel
from abm.scenario import validate

ROOT = Path(__file__).resolve().parents[1]


def _lockstep(scenario, steps):
    naive = load_naive()
    model = LeverageModel(scenario=scenario)
    ref = naive.NaiveModel(model, seed=3)
    log = naive.record_user_draws(model)
    states = []
    for _ in range(steps):
        quality = np.array([p.quality for p in model.platforms])
        price = np.array([p.price for p in model.platforms])
        log.clear()
        model.step()
        ref.step_users(quality, price, naive.replay(list(log)))
        states.append((naive.model_state(model), ref.state()))
    return model, ref, states


CAMPAIGNS = [
    # A boycott that recruits by contagion plus grievance, with fatigue, launched at
    # critical mass; and a strike on another platform that stops at step 6.
    {"name": "boycotters", "target": "incumbent", "lever": "boycott", "size": 0.3,
     "recruit_rate": 0.3, "fatigue": 0.2, "turnout_weight": 0.3, "start": 2,
     "critical_mass": 0.3},
    {"name": "strikers", "target": "challenger", "lever": "strike", "size": 0.3, "stop": 6},
]  # fmt: skip


@pytest.mark.parametrize("campaigns", [None, CAMPAIGNS], ids=["strike", "boycott+strike"])
def test_naive_reference_makes_identical_decisions(campaigns):
    scenario = bench_scenario(300, steps=8, seed=5)
    if campaigns:
        raw = scenario.model_dump(mode="json")
        raw["collectives"] = campaigns
        raw["population"].update(grievance=0.05, threshold_mean=0.1)
        scenario = validate(raw)
    model, ref, states = _lockstep(scenario, 8)
    changed_platform = acted = 0
    for step, (vec, nai) in enumerate(states):
        for key in ("platform", "action", "member", "acting"):
            np.testing.assert_array_equal(vec[key], nai[key], err_msg=f"{key} at step {step}")
        acted += int(vec["acting"].any(axis=1).sum())
    first = states[0][0]["platform"]
    changed_platform = int((states[-1][0]["platform"] != first).sum())
    # The case exercises the rules: people switch platforms and campaigns run.
    assert changed_platform > 0
    assert acted > 0
    if campaigns:
        seen = set(np.concatenate([vec["action"] for vec, _ in states]).tolist())
        assert {Action.WITHHOLD, Action.BOYCOTT, Action.IDLE} <= seen
        assert states[-1][0]["member"][:, 0].sum() > states[0][0]["member"][:, 0].sum()  # recruits
        assert states[3][0]["acting"][:, 1].any() and not states[-1][0]["acting"][:, 1].any()
    # The reference's users are real Mesa agents on the network's cells.
    user = ref.users[7]
    assert user.cell is ref.grid[7]
    assert len(user.neighbours()) == int(model.degree[7])


def test_naive_reference_diverges_when_fed_other_draws():
    scenario = bench_scenario(300, steps=6, seed=5)
    naive = load_naive()
    model = LeverageModel(scenario=scenario)
    ref = naive.NaiveModel(model, seed=3)
    log = naive.record_user_draws(model)
    rng = np.random.default_rng(99)
    diverged = False
    for _ in range(6):
        quality = np.array([p.quality for p in model.platforms])
        price = np.array([p.price for p in model.platforms])
        log.clear()
        model.step()
        ref.step_users(quality, price, naive.fresh(rng))
        vec, nai = naive.model_state(model), ref.state()
        diverged |= not np.array_equal(vec["platform"], nai["platform"])
    assert diverged


def test_bench_json_smoke(tmp_path):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-m", "abm", "bench", "--json", "--sizes", "300", "--steps", "2"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    (row,) = data["results"]
    for key in (
        "n_users",
        "s_per_step",
        "user_steps_per_s",
        "naive_s_per_step",
        "ratio_vs_naive",
        "build_s",
        "peak_rss_mb",
    ):
        assert key in row
    assert row["n_users"] == 300
    assert row["s_per_step"] > 0 and row["build_s"] > 0 and row["peak_rss_mb"] > 0
    assert row["naive_s_per_step"] > 0
    assert row["ratio_vs_naive"] == pytest.approx(row["naive_s_per_step"] / row["s_per_step"])
    assert row["user_steps_per_s"] == pytest.approx(300 / row["s_per_step"])
    assert set(row["phase_share"]) >= {"users", "data", "retrain", "collect"}
    assert "exponent" in data
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_bench_rejects_bad_sizes():
    out = subprocess.run(
        [sys.executable, "-m", "abm", "bench", "--sizes", "10,abc"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "--sizes" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_bench_runs_on_the_stream_task():
    assert bench_scenario(300, task="stream").task.name == "stream"
    assert bench_scenario(300).task.name == "digits"  # the default scenario is unchanged
    report = run_bench([300], steps=2, naive_max=0, task="stream")
    assert report["task"] == "stream" and "stream" in report["scenario"]
    (row,) = report["results"]
    assert row["s_per_step"] > 0 and row["ratio_vs_naive"] is None
    out = subprocess.run(
        [sys.executable, "-m", "abm", "bench", "--task", "digitz", "--sizes", "300"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "--task" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_bench_refuses_a_size_memory_cannot_hold_in_one_line_before_any_size_runs():
    from abm.runner import memory_limit, users_that_fit

    too_many = 4 * users_that_fit(bench_scenario(1000, steps=2)) + 10
    out = subprocess.run(
        [sys.executable, "-m", "abm", "bench", "--sizes", f"1000,{too_many}", "--steps", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("abm: --sizes: population.n_users: a run that fits in memory:")
    assert f"{too_many:,} users" in lines[0] and "users fit)" in lines[0]
    assert "internal error" not in lines[0] and "1000 users:" not in out.stderr  # none ran
    assert memory_limit() > 0


def test_the_schema_has_no_user_cap_and_memory_says_how_many_fit():
    from abm.runner import check_memory, memory_estimate, users_that_fit
    from abm.scenario import ScenarioError

    assert bench_scenario(10_000_000, steps=10).population.n_users == 10_000_000  # no cap
    have = 8 * 2**30
    scenario = bench_scenario(1000, steps=2)
    fit = users_that_fit(scenario, have)
    at = {n: bench_scenario(n, steps=2) for n in (fit, fit + 1)}
    assert memory_estimate(at[fit]) <= have < memory_estimate(at[fit + 1])
    # The refusal quotes the count (rounded down), from this machine's limit.
    with pytest.raises(ScenarioError, match=r"users fit\)$"):
        check_memory(bench_scenario(10 * users_that_fit(scenario), steps=2), "x.yaml")


MEASURE_PEAK = """
import json, sys
from abm.bench import bench_scenario
from abm.model import LeverageModel
from abm.runner import memory_estimate
from abm.scenario import with_overrides
n, twins, agents = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
s = with_overrides(bench_scenario(n, steps=6, twins=twins), {"population.samples_per_step": 0.5})
model = LeverageModel(scenario=s)
if agents:
    list(model.agents)
while model.running:
    model.step()
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's peak (a test worker's)
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps([memory_estimate(s, agents=agents), int(hwm.split()[1]) * 1024]))
"""


def _estimate_and_peak(n: int, twins: str, agents: bool) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE_PEAK, str(n), twins, str(int(agents))],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return tuple(json.loads(out.stdout.splitlines()[-1]))


@pytest.mark.parametrize("twins, agents", [("off", False), ("joint", False), ("joint", True)])
def test_the_memory_estimate_stays_under_a_runs_measured_peak(twins, agents):
    # The estimate refuses only what cannot fit, so it is a lower bound of the peak
    # resident memory; and what a user adds to it (arrays in each world, pooled rows,
    # agents where read) is most of what a user adds to the measured peak, so it says
    # truly how many users fit. Each term moves the slope visibly between 50k and 250k.
    (e1, p1), (e2, p2) = (_estimate_and_peak(n, twins, agents) for n in (50_000, 250_000))
    assert e1 <= p1 and e2 <= p2
    assert 0.5 * (p2 - p1) <= e2 - e1 <= p2 - p1, (e1, p1, e2, p2)
