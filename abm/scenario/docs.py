"""The schema reference: units of every numeric field and the Markdown table.

``abm schema`` prints :func:`schema_markdown`; ``docs/schema.md`` and the README's table
are generated from it, so the reference never drifts from :mod:`abm.scenario.schema`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel

from abm.scenario.schema import Scenario

# The unit of every numeric field, by schema path (``abm schema`` prints it; a test
# checks that no numeric field is missing here). "-" marks a pure number.
UNITS: dict[str, str] = {
    "seed": "-",
    "steps": "steps",
    "population.n_users": "users",
    "population.samples_per_step": "samples / user / step",
    "population.rationality": "1 / utility",
    "population.network_weight": "utility",
    "population.switching_cost": "utility",
    "population.reconsider_rate": "probability / step",
    "population.threshold_mean": "share of peers",
    "population.threshold_sd": "share of peers",
    "population.grievance": "utility",
    "population.exit_cost_weight": "-",
    "network.mean_degree": "neighbours",
    "network.rewire": "probability",
    "network.groups": "groups",
    "network.homophily": "share of edges",
    "task.test_size": "share of samples",
    "task.n_samples": "samples",
    "task.stream.n_features": "features",
    "task.stream.n_classes": "classes",
    "task.stream.components": "components / class",
    "task.stream.separation": "feature sd",
    "task.stream.noise": "feature sd (stars for ratings_stream)",
    "task.stream.shift": "feature sd",
    "task.stream.n_groups": "groups",
    "task.stream.label_noise": "probability",
    "task.stream.n_test": "samples",
    "task.stream.n_items": "items",
    "task.stream.rank": "latent dimensions",
    "platforms[].initial_share": "share of users",
    "platforms[].price": "utility / step",
    "platforms[].retention": "steps",
    "platforms[].shards": "shards",
    "platforms[].filter_cost": "utility / step",
    "platforms[].filter_drop": "share of clean samples",
    "platforms[].filter_calibration": "samples",
    "platforms[].incentive": "utility / step",
    "platforms[].seed_data": "samples",
    "collectives[].size": "share of users",
    "collectives[].group": "group index",
    "collectives[].recruit_rate": "probability / step",
    "collectives[].start": "step",
    "collectives[].stop": "step",
    "collectives[].critical_mass": "share of users",
    "collectives[].fatigue": "probability / step",
    "collectives[].demand": "utility / member / step",
    "collectives[].patience": "rounds",
    "collectives[].rate": "share of samples",
    "collectives[].signal.target": "class label",
    "collectives[].signal.n_features": "features",
    "collectives[].signal.noise": "share of samples",
    "collectives[].protest.grievance": "utility per step",
    "collectives[].protest.relief": "share of the grievance",
    "collectives[].item": "item index",
    "collectives[].turnout_weight": "weight (0-1)",
    "policy.portability": "share of switching cost",
    "policy.bargaining_power": "weight (0-1)",
    "policy.value_of_quality": "utility / user / step / quality",
    "policy.bargaining_every": "steps",
    "events[].at": "step",
    "events[].quality": "score",
    "events[].reach": "share of users",
    "events[].price": "utility / step",
    "measurement.agent_table_every": "steps",
    "check.seeds": "seeds",
}


def schema_rows(model: type[BaseModel] = Scenario, prefix: str = "") -> list[dict[str, str]]:
    """Every field of the schema as rows: path, type, unit, default, range, meaning."""
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        ann = field.annotation
        sub = _submodel(ann)
        if sub is not None:
            is_list = getattr(ann, "__origin__", None) is list
            rows += schema_rows(sub, f"{path}[]." if is_list else f"{path}.")
            continue
        bounds = []
        for m in field.metadata:
            for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
                if getattr(m, attr, None) is not None:
                    bounds.append(f"{sym} {getattr(m, attr)}")
        default = (
            "required"
            if field.is_required()
            else _show(field.get_default(call_default_factory=True))
        )
        rows.append(
            {
                "field": path,
                "type": _type_name(ann),
                "unit": UNITS.get(path, ""),
                "default": default,
                "range": ", ".join(bounds),
                "meaning": field.description or "",
            }
        )
    return rows


def _submodel(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for a in getattr(ann, "__args__", ()):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def _type_name(ann: Any) -> str:
    if isinstance(ann, type) and issubclass(ann, StrEnum):
        return " | ".join(m.value for m in ann)
    if getattr(ann, "__origin__", None) is Literal:
        return " | ".join(str(a) for a in ann.__args__)
    text = getattr(ann, "__name__", None) or str(ann)
    return text.replace("typing.", "").replace("NoneType", "null")


def _show(value: Any) -> str:
    if isinstance(value, StrEnum):
        return value.value
    return "null" if value is None else str(value)


def schema_markdown() -> str:
    """The schema reference as a Markdown table (printed by ``abm schema``, in the README)."""
    lines = [
        "<!-- generated by `abm schema > docs/schema.md`; do not edit by hand -->",
        "",
        "| field | type | unit | default | range | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for r in schema_rows():
        cells = [f"`{r['field']}`", r["type"].replace("|", "\\|"), r["unit"], r["default"]]
        cells += [r["range"], r["meaning"].replace("|", "\\|")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + registry_markdown())


def registry_markdown() -> list[str]:
    """The levers, learners and tasks a scenario can name, from their registries."""
    from abm.learning.registry import LEARNERS, TASKS
    from abm.levers import LEVERS

    def kinds(k: frozenset) -> str:
        return " or ".join(sorted(k))

    lines = ["", "## Levers (`collectives[].lever`, from `abm.levers.LEVERS`)", "",
             "| lever | what it is | data of acting members goes to | task kinds |",
             "|---|---|---|---|"]  # fmt: skip
    for r in LEVERS.values():
        where = [w for w, on in (("home", r.home), ("redirect_to", r.redirects)) if on]
        sent = " and ".join(where) or "nowhere"
        if r.send is not None:
            sent += f" (a share: {r.rate})"
        lines.append(f"| {r.id} | {r.words} | {sent} | {kinds(r.tasks)} |")
    lines += ["", "## Learners (`platforms[].learner`, from `abm.learning.registry.LEARNERS`)",
              "", "| learner | what it is | task kinds |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {e.name} | {e.words} | {kinds(e.kinds)} |" for e in LEARNERS.values()]
    lines += ["", "## Tasks (`task.name`, from `abm.learning.registry.TASKS`)", "",
              "| task | what it is | kind | reads task.path |", "|---|---|---|---|"]  # fmt: skip
    lines += [f"| {t.name} | {t.words} | {t.kind} | {'yes' if t.needs_path else 'no'} |"
              for t in TASKS.values()]  # fmt: skip
    return lines
