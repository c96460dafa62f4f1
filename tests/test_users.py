"""Users as Mesa agents: views on the model's arrays, built on first read, read by Mesa's tools."""

from __future__ import annotations

import mesa
import numpy as np
import pytest
from mesa.experimental.mesa_signals import ModelSignals

from abm import metrics
from abm.agents import User
from abm.behaviour import Action
from abm.model import LeverageModel
from tests.conftest import small

# A strike by 60% of 300 users from step 1, recruiting: actions, memberships and
# platforms all change over the first steps.
STRIKE = {
    "population": {"n_users": 300, "samples_per_step": 1.0, "threshold_mean": 0.1},
    "collectives": [
        {"name": "union", "target": "incumbent", "lever": "strike", "size": 0.6, "start": 1,
         "recruit_rate": 0.3},
    ],
}  # fmt: skip


def _few_agents(model: LeverageModel) -> int:
    return len(model.platforms) + len(model.collectives)


def test_a_run_builds_no_user_agents_until_something_reads_them():
    model = LeverageModel(scenario=small(**STRIKE))
    for _ in range(3):
        model.step()
    metrics.agent_table(model)  # the run's own agent table reads the arrays
    assert model.agent_id_counter == 1 + _few_agents(model)  # only platforms, collectives
    users = model.agents_by_type[User]
    assert len(users) == model.n_users
    assert model.agent_id_counter == 1 + _few_agents(model) + model.n_users
    assert len(model.agents) == _few_agents(model) + model.n_users
    assert User in model.agent_types
    assert model.agents_by_type[User] is users  # built once


def test_users_built_in_bulk_equal_users_built_one_at_a_time():
    bulk = LeverageModel(scenario=small(**STRIKE))
    single = LeverageModel(scenario=small(**STRIKE))
    added = []

    # An observer of added agents makes the model register users one by one (Agent.__init__).
    def seen(signal):
        added.append(signal)

    single.observe("agents", ModelSignals.AGENT_ADDED, seen)
    a, b = bulk.agents_by_type[User].to_list(), single.agents_by_type[User].to_list()
    assert len(added) == single.n_users
    assert [u.unique_id for u in a] == [u.unique_id for u in b]
    assert [u.index for u in a] == list(range(bulk.n_users))
    assert [type(x).__name__ for x in bulk.agents] == [type(x).__name__ for x in single.agents]
    assert bulk.agent_id_counter == single.agent_id_counter
    for model, users in ((bulk, a), (single, b)):
        for i in (0, 17, model.n_users - 1):
            assert users[i].cell is model.grid[i]
            assert users[i].cell.agents == [users[i]]
            assert users[i].pos is None and users[i].model is model
            neighbours = {c.coordinate for c in users[i].cell.neighborhood}
            assert neighbours == set(model.adjacency[[i]].indices)
    assert not hasattr(a[0], "__dict__") or not vars(a[0])  # slots: no per-agent dict


def test_datacollector_agent_reporters_read_what_the_arrays_hold():
    """A Mesa DataCollector's agent reporters on the users over a few steps equal the arrays."""
    model = LeverageModel(scenario=small(**STRIKE))
    reporters = {"platform": "platform", "action": "action", "member": "member",
                 "contributed": "contributed"}  # fmt: skip
    collector = mesa.DataCollector(agenttype_reporters={User: reporters})
    snapshots = []
    for _ in range(4):
        model.step()
        collector.collect(model)
        u = model.users
        snapshots.append([a.copy() for a in (u.platform, u.action, u.member, u.contributed)])
    table = collector.get_agenttype_vars_dataframe(User)
    ids = {a.unique_id: a.index for a in model.agents_by_type[User]}
    seen_actions = set()
    for k, (platform, action, member, contributed) in enumerate(snapshots):
        step = table.xs(float(k + 1), level="Step")
        index = step.index.map(ids).to_numpy()
        assert len(step) == model.n_users
        np.testing.assert_array_equal(step["platform"].to_numpy(), platform[index])
        np.testing.assert_array_equal(step["action"].to_numpy(dtype=int), action[index])
        np.testing.assert_array_equal(np.array(step["member"].tolist(), bool), member[index])
        np.testing.assert_array_equal(step["contributed"].to_numpy(), contributed[index])
        seen_actions |= set(step["action"].tolist())
    assert {Action.WITHHOLD, Action.CONTRIBUTE} <= seen_actions  # the strike shows
    # A sample of users through the AgentSet API: select, get, agg, groupby.
    sample = model.agents_by_type[User].select(lambda a: a.index % 7 == 0)
    rows = np.arange(0, model.n_users, 7)
    assert sample.get("index") == rows.tolist()
    assert sample.agg("contributed", sum) == int(model.users.contributed[rows].sum())
    counts = sample.groupby("platform").count()
    assert counts == {
        p: int(n)
        for p, n in zip(*np.unique(model.users.platform[rows], return_counts=True), strict=True)
    }


def test_the_agent_table_says_what_the_user_agents_say():
    model = LeverageModel(scenario=small(**STRIKE))
    for _ in range(3):
        model.step()
    table = metrics.agent_table(model)
    users = model.agents_by_type[User]
    assert table["contributed"].tolist() == users.get("contributed")
    assert table["group"].tolist() == users.get("group")
    assert table["member[union]"].tolist() == [m[0] for m in users.get("member")]
    assert table["action"].tolist() == [a.name.lower() for a in users.get("action")]
    assert table["degree"].tolist() == users.get("degree")


def test_a_twins_user_agents_read_the_twins_arrays():
    model = LeverageModel(scenario=small(**STRIKE))
    for _ in range(3):
        model.step()
    twin = model.twins[0]
    real_users, twin_users = model.agents_by_type[User], twin.agents_by_type[User]
    assert np.array_equal(np.array(twin_users.get("action")), twin.users.action)
    striking = [a.index for a in real_users if a.action is Action.WITHHOLD]
    assert striking  # the real world strikes; its twin's members act normally
    assert Action.WITHHOLD not in {twin_users[i].action for i in striking[:5]}


@pytest.mark.parametrize("attr", ["platform", "group", "threshold", "actor", "value", "dividend"])
def test_every_scalar_attribute_is_its_array_row(attr):
    model = LeverageModel(scenario=small(**STRIKE))
    model.step()
    got = np.array(model.agents_by_type[User].get(attr))
    np.testing.assert_array_equal(got, getattr(model.users, attr))
