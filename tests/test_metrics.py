from pathlib import Path

from abm.metrics import MEASURED, OUTCOMES, RANKED, SERIES, outcome_names, reference_markdown
from abm.scenario import validate

ROOT = Path(__file__).resolve().parents[1]


def test_docs_outputs_md_is_generated_from_the_declarations() -> None:
    text = (ROOT / "docs" / "outputs.md").read_text()
    assert text == reference_markdown() + "\n", "regenerate with: abm outputs > docs/outputs.md"
    for d in (*SERIES, *OUTCOMES):
        assert f"| `{d.name}` | {d.per} | {d.unit} | {d.applies.label} |" in text


def test_an_outcome_exists_exactly_where_its_declaration_says() -> None:
    base = {
        "platforms": [{"name": "a"}, {"name": "b"}],
        "collectives": [{"name": "c", "target": "a", "lever": "strike", "size": 0.2}],
    }
    classification = validate(base, file="x.yaml")
    off = validate({**base, "measurement": {"twins": "off"}}, file="x.yaml")
    ratings = validate({**base, "task": {"name": "ratings"}}, file="x.yaml")
    assert "mean_leverage[c]" in outcome_names(classification)
    assert "mean_leverage[c]" not in outcome_names(off)
    assert "final_hit_rate[a]" in outcome_names(ratings)
    assert "final_hit_rate[a]" not in outcome_names(classification)
    assert RANKED(ratings, ratings.platforms[0]) and not RANKED(classification, None)
    assert MEASURED(classification, None) and not MEASURED(off, None)
