"""A scenario file of one's own, started from a reference scenario (``abm new``).

Assumption: a newcomer learns the schema best from a file that already works. The
starter holds the reference scenario's resolved fields that differ from the schema's
defaults (its ``extends:`` chain merged in), each with its meaning, unit and range as a
comment, so it validates and runs from any folder without the project's other files;
every field not written keeps its default (``abm schema`` lists them). It is written
into the current folder only, under a name checked like an output folder's, and never
over an existing file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from abm.scenario.docs import schema_rows
from abm.scenario.load import REFERENCE_SCENARIOS as REFERENCE
from abm.scenario.load import load_scenario, read_limited
from abm.scenario.schema import Collective, Scenario, ScenarioError

# Fields a starter always shows for each collective (even at their defaults): the ones
# a first edit changes.
COLLECTIVE_FIELDS = ("name", "target", "lever", "size", "start")


def reference_file(source: str) -> Path:
    """The file ``--from`` names: a reference scenario by name, or a scenario file's path.

    Raises:
        ScenarioError: Neither a reference scenario's name nor an existing file.
    """
    by_name = REFERENCE / f"{source}.yaml"
    if re.fullmatch(r"[\w-]+", source) and by_name.is_file():
        return by_name
    path = Path(source)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    known = ", ".join(sorted(p.stem for p in REFERENCE.glob("*.yaml")))
    raise ScenarioError(None, "--from", f"a reference scenario ({known}) or a scenario file")


def starter_text(spec: Scenario, name: str, source: Path) -> str:
    """The starter file's text: a header, then the non-default fields with comments."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    data["name"] = name
    data["platforms"] = [
        {"name": p.name, **p.model_dump(mode="json", exclude_defaults=True)} for p in spec.platforms
    ]
    data["collectives"] = [_collective(c) for c in spec.collectives]
    if not data["collectives"]:
        del data["collectives"]
    lines = _header(name, source, _quick_steps(spec))
    notes = {r["field"]: r for r in schema_rows()}
    notes |= {f.rsplit(".", 1)[0] + ".": {} for f in list(notes) if "." in f}  # nested models
    for key in Scenario.model_fields:  # the schema's order
        if key in data:
            _emit(key, data[key], key, notes, 0, lines)
    return "\n".join(lines) + "\n"


def write_starter(name: str, source: str, folder: Path | None = None) -> Path:
    """Write ``NAME.yaml`` in ``folder`` (default: the current one) from ``source``.

    Raises:
        ScenarioError: A name that is not a plain file name, an unknown source, or a
            file of that name already there (never overwritten).
    """
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]{0,63}", name) or name.endswith((".yaml", ".yml")):
        raise ScenarioError(
            None, "NAME", "a name of letters, digits, '.', '_' or '-' (no '.yaml'; it names "
            "the file NAME.yaml here and the run's output folder)"
        )  # fmt: skip
    file = reference_file(source)
    spec = load_scenario(file)
    target = (folder or Path.cwd()) / f"{name}.yaml"
    if target.exists() or target.is_symlink():
        raise ScenarioError(target, "NAME", "a file name not taken (an existing file is kept)")
    text = starter_text(spec, name, file)
    with open(target, "x", encoding="utf-8") as out:  # "x": never over a file made meanwhile
        out.write(text)
    return target


def _collective(c: Collective) -> dict[str, Any]:
    full = c.model_dump(mode="json")
    shown = {k: full[k] for k in COLLECTIVE_FIELDS}
    return {**shown, **c.model_dump(mode="json", exclude_defaults=True)}


def _quick_steps(spec: Scenario) -> int:
    """Steps of a quick try: five past the last campaign start or event, at most the run's."""
    last = max([c.start for c in spec.collectives] + [e.at for e in spec.events], default=0)
    return min(spec.steps, last + 5)


def _header(name: str, source: Path, quick: int) -> list[str]:
    """What the file is, how to use it, and the reference scenario's own notes."""
    where = f"{source.parent.name}/{source.name}"
    lines = [
        f"# {name}: a scenario of your own, started from {source.stem} ({where}).",
        "# Edit the values below; every field not written keeps its default, and",
        "# `abm schema` lists them all with their units, ranges and meanings.",
        f"#   abm validate {name}.yaml",
        f"#   abm run {name}.yaml --steps {quick}     (a quick try; without --steps: the full run)",
        f"#   abm check {name}.yaml             (its key outcome against the lever off)",
        "#",
    ]
    notes = []
    text = read_limited(source, 1 << 20, source).decode("utf-8", errors="replace")
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        notes.append(line)
    if notes:
        lines += [f"# Notes of {source.name}:", *notes]
    return lines


def _emit(key: str, value: Any, path: str, notes: dict, depth: int, lines: list[str]) -> None:
    """One field as YAML lines, a comment with its meaning beside each scalar.

    ``notes`` maps schema paths (``collectives[].size``) to their reference rows, and
    each nested model's prefix (``population.``) to an empty row.
    """
    pad = "  " * depth
    if isinstance(value, dict) and f"{path}." in notes:
        lines.append(f"{pad}{key}:")
        for k, v in value.items():
            _emit(k, v, f"{path}.{k}", notes, depth + 1, lines)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        lines.append(f"{pad}{key}:")
        for item in value:
            first = len(lines)
            for k, v in item.items():
                _emit(k, v, f"{path}[].{k}", notes, depth + 2, lines)
            lines[first] = f"{pad}  - " + lines[first].lstrip()
    else:
        lines.append(_commented(f"{pad}{key}: {_scalar(value)}", notes.get(path)))


def _scalar(value: Any) -> str:
    """A value in YAML flow style on one line (``0.3``, ``{portability: 1.0}``, ``'x: y'``)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _commented(line: str, note: dict | None) -> str:
    if not note or not note["meaning"]:
        return line
    extra = [x for x in (note["unit"] if note["unit"] not in ("", "-") else "", note["range"]) if x]
    choices = note["type"] if " | " in note["type"] and "null" not in note["type"] else ""
    said = note["meaning"].rstrip(".")
    if choices and not all(c in said for c in choices.split(" | ")):
        said += f": {choices}"
    if extra:
        said += f" ({'; '.join(extra)})"
    return f"{line:<40} # {said}"
