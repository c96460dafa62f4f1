"""Field paths: the one walker from a path string to a place in a scenario.

A field path names one scenario field: ``population.n_users``,
``collectives.union.size`` (list items by name or index). Four front ends spell the
same path differently, and each has an adapter here that turns its spelling into a
list of parts, so there is exactly one walker:

- ``--set`` overrides and sweep ``vary:`` keys use dots: :func:`from_dotted`;
- the viewer's controls use brackets for list items (``collectives[union].size``):
  :func:`from_brackets` / :func:`to_brackets`;
- Mesa model keywords cannot hold dots, so they use ``__``
  (``collectives__union__size``): :func:`from_keyword` / :func:`to_keyword`.

Modelling assumption: a path addresses the scenario's *document* (its JSON form), so a
path that works in a scenario file works everywhere; the schema then validates the
result as a whole.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from abm.scenario.limited_yaml import YAMLLimitError, load_limited
from abm.scenario.schema import Scenario, ScenarioError

# --------------------------------------------------------------------------- adapters


def from_dotted(path: str) -> list[str]:
    """Parts of a dotted path (``--set``, sweeps): ``collectives.union.size``."""
    return path.strip().split(".")


def from_brackets(path: str) -> list[str]:
    """Parts of a viewer path: ``collectives[union].size`` -> ``[collectives, union, size]``."""
    return path.replace("[", ".").replace("]", "").split(".")


def to_brackets(
    parts: list[str], lists: tuple[str, ...] = ("platforms", "collectives", "events")
) -> str:
    """The viewer's spelling of ``parts``: list items in brackets."""
    out = ""
    for i, p in enumerate(parts):
        if i > 0 and parts[i - 1] in lists:
            out += f"[{p}]"
        else:
            out += f".{p}" if out else p
    return out


def from_keyword(key: str) -> list[str]:
    """Parts of a Mesa model keyword: ``collectives__union__size``."""
    return key.split("__")


def to_keyword(parts: list[str]) -> str:
    """The Mesa model keyword of ``parts``: joined by ``__``."""
    return "__".join(parts)


def to_dotted(parts: list[str]) -> str:
    """The dotted spelling of ``parts``."""
    return ".".join(parts)


def keyword_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """Mesa keywords (``population__n_users=...``) as dotted overrides."""
    return {to_dotted(from_keyword(k)): v for k, v in overrides.items()}


def schema_field(parts: list[str]) -> FieldInfo:
    """The schema's field at ``parts`` (list items, by name, index or ``*``, are skipped).

    For front ends that need a field's type and bounds rather than a value (the
    viewer's sliders): ``schema_field(from_brackets("collectives[*].size"))``.

    Raises:
        KeyError: No such field in the schema.
    """
    model: type[BaseModel] | None = Scenario
    info: FieldInfo | None = None
    skip = False
    for part in parts:
        if skip:  # the item of a list: its name, index or "*"
            skip = False
            continue
        if model is None or part not in model.model_fields:
            raise KeyError(f"{to_dotted(parts)}: no field '{part}'")
        info = model.model_fields[part]
        ann = info.annotation
        skip = getattr(ann, "__origin__", None) is list
        model = next(
            (
                c
                for c in (ann, *getattr(ann, "__args__", ()))
                if isinstance(c, type) and issubclass(c, BaseModel)
            ),
            None,
        )
    if info is None:
        raise KeyError("an empty field path")
    return info


# --------------------------------------------------------------------------- walker


def get(data: Any, parts: list[str]) -> Any:
    """The value at ``parts`` in a scenario document, or ``None`` when there is none."""
    for p in parts:
        if isinstance(data, dict):
            if p not in data:
                return None
            data = data[p]
        elif isinstance(data, list):
            data = next(
                (
                    x
                    for i, x in enumerate(data)
                    if (isinstance(x, dict) and x.get("name") == p) or str(i) == p
                ),
                None,
            )
        else:
            return None
    return data


def set_path(raw: dict, key: str | list[str], value: Any, file: str | Path | None = None) -> None:
    """Set the field at ``key`` (dotted or parts) in a scenario document, in place.

    A missing section is created from the schema's defaults, so ``policy.portability``
    works on a file that has no ``policy:`` block.

    Raises:
        ScenarioError: The path names no field or no list item.
    """
    parts = from_dotted(key) if isinstance(key, str) else list(key)
    shown = to_dotted(parts)
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        node = _child(node, part, parts[: depth + 1], file)
    if isinstance(node, list):
        raise ScenarioError(file, shown, "a field name after a list item")
    if not isinstance(node, dict):
        raise ScenarioError(file, shown, "a path through sections of the scenario")
    node[parts[-1]] = value


def _child(node: Any, part: str, walked: list[str], file: Any) -> Any:
    where = to_dotted(walked)
    if isinstance(node, list):
        for i, x in enumerate(node):
            if (isinstance(x, dict) and x.get("name") == part) or part == str(i):
                return x
        names = [str(x.get("name")) for x in node if isinstance(x, dict)]
        hint = difflib.get_close_matches(part, names, n=1)
        extra = f"; did you mean '{hint[0]}'?" if hint else ""
        known = ", ".join(names) if names else "none defined"
        raise ScenarioError(file, where, f"a known item name or index (one of {known}){extra}")
    if not isinstance(node, dict):
        raise ScenarioError(file, where, "a path through sections of the scenario")
    if part not in node:
        probe = _default_at(walked)
        node[part] = copy.deepcopy(probe) if probe is not None else {}
    return node[part]


def _default_at(parts: list[str]) -> Any:
    defaults = Scenario().model_dump(mode="json")
    for p in parts:
        if isinstance(defaults, dict) and p in defaults:
            defaults = defaults[p]
        elif isinstance(defaults, list):
            defaults = next(
                (x for x in defaults if isinstance(x, dict) and x.get("name") == p), None
            )
        else:
            return None
    return defaults


MAX_PATH_PARTS = 16  # the schema's deepest field is 4 parts (collectives.NAME.signal.target)
MAX_OVERRIDE_BYTES = 64 << 10  # one --set value


def apply_override(raw: dict, item: str, file: str | Path | None = None) -> None:
    """Apply one ``path.to.field=value`` override in place (value parsed as YAML scalar).

    Items of ``platforms``, ``collectives`` and ``events`` are addressed by name or index.
    The value is parsed under the limits of a scenario file (an alias bomb or deep
    nesting is refused at once); text that is not YAML is taken as a string.
    """
    if "=" not in item:
        raise ScenarioError(file, f"--set {item}", "an override of the form path.to.field=value")
    key, _, text = item.partition("=")
    if not key.strip():
        raise ScenarioError(file, f"--set {item}", "a field path before '='")
    if len(from_dotted(key)) > MAX_PATH_PARTS:
        raise ScenarioError(
            file, f"--set {key[:60]}", f"a field path of at most {MAX_PATH_PARTS} parts"
        )
    if len(text) > MAX_OVERRIDE_BYTES:
        raise ScenarioError(
            file, f"--set {key}", f"a value of at most {MAX_OVERRIDE_BYTES:,} characters"
        )
    try:
        value = load_limited(text)
    except YAMLLimitError as err:
        raise ScenarioError(file, f"--set {key}", err.expected) from None
    except yaml.YAMLError:
        value = text
    try:
        set_path(raw, key, value, file)
    except ScenarioError as err:
        raise ScenarioError(file, f"--set {err.field}", err.expected) from None


def current(scenario: Scenario, key: str) -> Any:
    """The scenario's value at a dotted path, or ``None`` when the path names nothing."""
    return get(scenario.model_dump(mode="json"), from_dotted(key))


def differences(before: Scenario, after: Scenario) -> list[tuple[str, Any, Any]]:
    """Every field whose value differs, as ``(dotted path, before, after)``.

    Paths are spelled as ``--set`` takes them (list items by name where they have one),
    so a report can say which overrides made a run differ from its file. A list item
    only one side has is one difference (``None`` on the other side).
    """
    out: list[tuple[str, Any, Any]] = []
    _diff(before.model_dump(mode="json"), after.model_dump(mode="json"), [], out)
    return out


def _diff(a: Any, b: Any, parts: list[str], out: list) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in dict.fromkeys([*a, *b]):
            _diff(a.get(key), b.get(key), [*parts, key], out)
    elif isinstance(a, list) and isinstance(b, list) and all(isinstance(x, dict) for x in [*a, *b]):
        keys = [_item_key(x, i) for i, x in enumerate(a)]
        other = {_item_key(x, i): x for i, x in enumerate(b)}
        for key in dict.fromkeys([*keys, *other]):
            mine = a[keys.index(key)] if key in keys else None
            _diff(mine, other.get(key), [*parts, key], out)
    elif a != b:
        out.append((to_dotted(parts), a, b))


def _item_key(item: dict, index: int) -> str:
    return str(item["name"]) if item.get("name") else str(index)
