"""The one field-path walker and its adapters (--set, sweeps, viewer brackets, keywords)."""

from __future__ import annotations

import pytest

from abm.scenario import Scenario, ScenarioError, with_overrides
from abm.scenario.paths import (
    current,
    from_brackets,
    from_dotted,
    from_keyword,
    keyword_overrides,
    schema_field,
    set_path,
    to_brackets,
    to_keyword,
)

SPEC = Scenario.model_validate(
    {"collectives": [{"name": "union", "target": "incumbent", "size": 0.3}]}
)


@pytest.mark.parametrize(
    "parts",
    [
        from_dotted("collectives.union.size"),
        from_brackets("collectives[union].size"),
        from_keyword("collectives__union__size"),
    ],
)
def test_three_spellings_name_one_field(parts) -> None:
    assert parts == ["collectives", "union", "size"]
    assert to_keyword(parts) == "collectives__union__size"
    assert to_brackets(parts) == "collectives[union].size"
    assert current(SPEC, ".".join(parts)) == 0.3


def test_keywords_become_overrides_through_the_same_walker() -> None:
    spec = with_overrides(SPEC, keyword_overrides({"collectives__union__size": 0.5}))
    assert spec.collectives[0].size == 0.5
    assert with_overrides(SPEC, {"collectives.0.size": 0.4}).collectives[0].size == 0.4


def test_schema_field_skips_list_items() -> None:
    assert schema_field(from_brackets("collectives[*].size")).description
    with pytest.raises(KeyError):
        schema_field(["seed", "x"])


def test_a_path_through_a_scalar_or_an_unknown_item_is_one_line() -> None:
    raw = SPEC.model_dump(mode="json")
    with pytest.raises(ScenarioError, match="a path through sections"):
        set_path(raw, "seed.x", 1)
    with pytest.raises(ScenarioError, match="did you mean 'union'"):
        set_path(raw, "collectives.unoin.size", 1)
