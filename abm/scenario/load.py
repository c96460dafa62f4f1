"""Loading a scenario file: YAML, ``extends:`` chains, ``--set`` overrides, data paths.

Loading is safe by construction: only ``yaml.safe_load`` is used, ``extends:`` chains
are resolved relative to the including file (cycles are an error), and data-file paths
must stay inside the scenario's folder or the working directory. Every problem becomes
a :class:`~abm.scenario.schema.ScenarioError` whose message is one line naming the
file, the field path and what was expected.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from abm.scenario.paths import apply_override
from abm.scenario.schema import Scenario, ScenarioError, validate

PROJECT_ROOT = Path.cwd


def load_scenario(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Read, merge (``extends``), override (``--set``) and validate a scenario file.

    Args:
        path: The YAML file.
        overrides: ``field.path=value`` strings; lists are addressed by item name.

    Returns:
        The validated scenario, with data paths resolved to absolute paths.

    Raises:
        ScenarioError: One line naming the file, the field and what was expected.
    """
    path = Path(path)
    raw = _read_with_extends(path, chain=())
    for item in overrides or []:
        apply_override(raw, item, file=path)
    scenario = validate(raw, file=path)
    return _resolve_paths(scenario, path)


def read_yaml(path: Path, what: str = "scenario") -> dict:
    """Read a YAML mapping safely (``yaml.safe_load``), with one-line errors.

    Args:
        path: The file.
        what: What the file holds ("scenario", "sweep", ...), for the error message.

    Raises:
        ScenarioError: The file is missing, unreadable, not YAML or not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, "", "an existing file (not found)") from None
    except IsADirectoryError:
        raise ScenarioError(path, "", "a YAML file, got a directory") from None
    except UnicodeDecodeError:
        raise ScenarioError(path, "", "a UTF-8 text file (YAML), got binary data") from None
    except OSError as err:
        raise ScenarioError(path, "", f"a readable file ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.reader.ReaderError as err:
        raise ScenarioError(
            path, f"character {err.position}", f"YAML text ({err.reason})"
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(parse)"
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ScenarioError(path, where, f"valid YAML ({problem})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(path, "", f"a mapping of {what} fields, got {type(data).__name__}")
    return data


def _read_with_extends(path: Path, chain: tuple[Path, ...]) -> dict:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(p.name for p in (*chain, resolved))
        raise ScenarioError(path, "extends", f"no cycle of extends ({cycle})")
    data = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(path, "extends", f"a file name, got {parent!r}")
    parent_path = path.parent / parent
    if not parent_path.is_file():
        raise ScenarioError(
            path, "extends", f"an existing scenario file, got '{parent}' (not found)"
        )
    base = _read_with_extends(parent_path, (*chain, resolved))
    return merge(base, data)


def merge(base: Any, over: Any) -> Any:
    """Deep-merge ``over`` into ``base``; lists of named items merge by name."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    if _named_list(base) and _named_list(over):
        out = [copy.deepcopy(x) for x in base]
        names = [x["name"] for x in out]
        for item in over:
            if item["name"] in names:
                i = names.index(item["name"])
                out[i] = merge(out[i], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(over)


def _named_list(x: Any) -> bool:
    return isinstance(x, list) and all(isinstance(i, dict) and "name" in i for i in x)


def _resolve_paths(scenario: Scenario, file: Path) -> Scenario:
    """Resolve data paths against the scenario's folder; refuse paths outside the project."""
    for section, field in (("task", "path"), ("network", "path")):
        obj = getattr(scenario, section)
        value = getattr(obj, field)
        if value is None:
            continue
        candidate = (file.parent / value).resolve()
        roots = [file.parent.resolve(), PROJECT_ROOT().resolve()]
        if not any(candidate.is_relative_to(r) for r in roots):
            raise ScenarioError(
                file, f"{section}.{field}", f"a path inside the project, got '{value}'"
            )
        if not candidate.exists():
            raise ScenarioError(file, f"{section}.{field}", f"an existing file, got '{value}'")
        setattr(obj, field, str(candidate))
    return scenario


def dump_scenario(scenario: Scenario) -> str:
    """The resolved scenario as YAML (written into every output folder)."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
