"""Loading a scenario: YAML, ``extends:`` chains, ``--set`` overrides, validation, data paths.

Loading treats a scenario file as untrusted input (docs/security.md): YAML is parsed
with :mod:`abm.scenario.limited_yaml` (size, nesting, alias expansion; a repeated key is
an error); ``extends:`` names a YAML file relative to the including file or one of the
project's reference scenarios by name (:func:`extends_target`; cycles are an error);
every other file a scenario names must resolve, after following links, to a regular
file under a size limit inside the scenario's root (:func:`scenario_root`, widened by
``--root``), and its content never appears in a message. Every problem becomes
a :class:`~abm.scenario.schema.ScenarioError` whose message is one line naming the
file, the field path and what was expected.
"""

from __future__ import annotations

import copy
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from pydantic import BaseModel, ValidationError

from abm.messages import printable
from abm.scenario.limited_yaml import MAX_YAML_BYTES, parse_yaml
from abm.scenario.paths import apply_override, set_path
from abm.scenario.schema import Scenario, ScenarioError, one_line_error

# Limits on what a scenario or sweep file may ask of the loader (docs/security.md).
MAX_DATA_BYTES = 8 << 30  # an edge list or data file (MovieLens 25M is 0.7 GB)
MAX_EXTENDS = 16  # length of an extends chain
ROOT_MARKERS = ("pyproject.toml", ".git")
# The project's reference scenarios: `extends: baseline` names one from any folder.
REFERENCE_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SCENARIO_SUFFIXES = (".yaml", ".yml")


def scenario_root(top: str | Path) -> Path:
    """The folder every file a scenario names must stay inside.

    The nearest folder above the top scenario (or sweep) file holding a project marker
    (``pyproject.toml`` or ``.git``); else the top file's own folder. Links are
    followed first, so a link cannot move the root.
    """
    folder = Path(top).resolve().parent
    for candidate in (folder, *folder.parents):
        if any((candidate / m).exists() for m in ROOT_MARKERS):
            return candidate
    return folder


def roots_for(top: str | Path, extra: list[str | Path] | tuple = ()) -> tuple[Path, ...]:
    """The scenario root of ``top`` and any folders ``--root`` adds (resolved)."""
    return (scenario_root(top), *(Path(r).resolve() for r in extra))


def safe_file(
    name: str,
    base: Path,
    roots: tuple[Path, ...],
    file: str | Path,
    field: str,
    limit: int = MAX_DATA_BYTES,
    what: str = "file",
) -> Path:
    """Resolve a file a scenario names; refuse anything but a regular file inside a root.

    Links are followed before the check, so a link inside the root pointing outside it
    is refused. Messages name the file and field, never the file's content.

    Args:
        name: The path as written in the scenario (relative to ``base``).
        base: The folder of the scenario file that names it.
        roots: Folders the file must resolve inside.
        file: The scenario file, for messages.
        field: The field naming it, for messages.
        limit: Largest size accepted, in bytes.
        what: What the file is, for messages ("file", "scenario file").
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ScenarioError(file, field, "a file name")
    try:
        target = (base / name).resolve(strict=True)
    except FileNotFoundError:
        raise ScenarioError(file, field, f"an existing {what}, got '{_short(name)}'") from None
    except (OSError, RuntimeError):
        raise ScenarioError(file, field, f"a resolvable file, got '{_short(name)}'") from None
    if not any(target.is_relative_to(r) for r in roots):
        shown = ", ".join(str(r) for r in roots)
        raise ScenarioError(
            file,
            field,
            f"a file inside the scenario's root ({shown}; --root widens it), got '{_short(name)}'",
        )
    try:
        info = target.stat()
    except OSError as err:
        raise ScenarioError(file, field, f"a readable file ({err.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ScenarioError(file, field, f"a regular file, got '{_short(name)}' ({_kind(info)})")
    if info.st_size > limit:
        raise ScenarioError(
            file, field, f"a file of at most {limit:,} bytes, got {info.st_size:,} bytes"
        )
    return target


def open_limited(path: Path, limit: int, file: str | Path, field: str = "") -> BinaryIO:
    """Open a regular file of at most ``limit`` bytes for reading, checked before any read.

    It is opened non-blocking, so a FIFO or device is refused without waiting on it.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ScenarioError(file, field, "an existing file (not found)") from None
    except IsADirectoryError:
        raise ScenarioError(file, field, "a file, got a directory") from None
    except OSError as err:
        raise ScenarioError(file, field, f"a readable file ({err.strerror})") from None
    fh = os.fdopen(fd, "rb")
    try:
        info = os.fstat(fh.fileno())
        if stat.S_ISDIR(info.st_mode):
            raise ScenarioError(file, field, "a file, got a directory")
        if not stat.S_ISREG(info.st_mode):
            raise ScenarioError(file, field, f"a regular file, got a {_kind(info)}")
        if info.st_size > limit:
            raise ScenarioError(
                file, field, f"a file of at most {limit:,} bytes, got {info.st_size:,} bytes"
            )
    except BaseException:
        fh.close()
        raise
    return fh


def read_limited(path: Path, limit: int, file: str | Path, field: str = "") -> bytes:
    """Read a regular file of at most ``limit`` bytes (a FIFO or device is refused unread).

    The buffer asked for is the file's size (plus one byte to see it grow), never
    ``limit``: a large limit must not reserve memory for a small file.
    """
    data = bytearray()
    with open_limited(path, limit, file, field) as fh:
        step = max(os.fstat(fh.fileno()).st_size, 1 << 16)
        while len(data) <= limit:  # to the end even if the size said 0 (/proc)
            chunk = fh.read(min(step, limit + 1 - len(data)))
            if not chunk:
                break
            data += chunk
    if len(data) > limit:
        raise ScenarioError(file, field, f"a file of at most {limit:,} bytes")
    return bytes(data)


def _kind(info: os.stat_result) -> str:
    mode = info.st_mode
    for test, word in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "named pipe"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return word
    return "special file"


def _short(text: Any, n: int = 80) -> str:
    return printable(text, n)


def load_scenario(
    path: str | Path,
    overrides: list[str] | None = None,
    *,
    roots: tuple[Path, ...] | None = None,
    extra_roots: list[str | Path] | tuple = (),
) -> Scenario:
    """Read, merge (``extends``), override (``--set``) and validate a scenario file.

    Args:
        path: The YAML file.
        overrides: ``field.path=value`` strings; lists are addressed by item name.
        roots: Folders every named file must stay inside (default: the root of
            ``path``, see :func:`scenario_root`, plus ``extra_roots``).
        extra_roots: Folders ``--root`` adds.

    Returns:
        The validated scenario, with data paths resolved to absolute paths.

    Raises:
        ScenarioError: One line naming the file, the field and what was expected.
    """
    path = Path(path)
    if roots is None:
        roots = roots_for(path, extra_roots)
    raw = _read_with_extends(path, chain=(), roots=roots)
    for item in overrides or []:
        apply_override(raw, item, file=path)
    scenario = validate(raw, file=path)
    return _resolve_paths(scenario, path, roots)


def validate(raw: Any, file: str | Path | None = None) -> Scenario:
    """Validate a plain mapping into a :class:`Scenario`, with one-line errors.

    Besides the schema's own checks, a ``check`` block's ``versus`` overrides must name
    fields and give a valid scenario. They are field paths, so they are checked here,
    above :mod:`abm.scenario.paths`, rather than in the schema the walker reads.
    Whether the check's outcome exists needs :mod:`abm.metrics` (and so the model
    layer), which loading a scenario must not import: :func:`abm.check.validate_check`
    checks that, for ``abm validate`` and ``abm check``.
    """
    if not isinstance(raw, dict):
        raise ScenarioError(file, "", f"a mapping of scenario fields, got {type(raw).__name__}")
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as err:
        raise one_line_error(err, file) from None
    if scenario.check is not None:
        _check_versus(scenario, file)
    return scenario


def _check_versus(scenario: Scenario, file: str | Path | None) -> None:
    raw = scenario.model_dump(mode="json", exclude={"check"})
    for key, value in scenario.check.versus.items():
        try:
            set_path(raw, key, value)
        except ScenarioError as err:
            raise ScenarioError(file, f"check.versus.{key}", err.expected) from None
    try:
        Scenario.model_validate(raw)
    except ValidationError as err:
        bad = one_line_error(err, None)
        expected = f"a valid scenario ({bad.field}: {bad.expected})"
        raise ScenarioError(file, "check.versus", expected) from None


def with_overrides(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """A copy of ``scenario`` with ``{"path.to.field": value}`` overrides applied."""
    raw = scenario.model_dump(mode="json")
    for key, value in overrides.items():
        set_path(raw, key, value)
    return validate(raw)


def read_yaml(path: Path, what: str = "scenario") -> dict:
    """Read a YAML mapping with the limits of :class:`LimitedLoader`, with one-line errors.

    Args:
        path: The file.
        what: What the file holds ("scenario", "sweep", ...), for the error message.

    Raises:
        ScenarioError: The file is missing, unreadable, not a regular file, too big, not
            YAML or not a mapping.
    """
    raw = read_limited(Path(path), MAX_YAML_BYTES, path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(path, "", "a UTF-8 text file (YAML), got binary data") from None
    data = parse_yaml(text, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(path, "", f"a mapping of {what} fields, got {type(data).__name__}")
    return data


def _read_with_extends(path: Path, chain: tuple[Path, ...], roots: tuple[Path, ...]) -> dict:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(p.name for p in (*chain, resolved))
        raise ScenarioError(path, "extends", f"no cycle of extends ({cycle})")
    if len(chain) >= MAX_EXTENDS:
        raise ScenarioError(path, "extends", f"a chain of at most {MAX_EXTENDS} files")
    data = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    parent_path = extends_target(parent, path, roots)
    base = _read_with_extends(parent_path, (*chain, resolved), roots)
    if "check" in data:
        # A check is one claim (an outcome against one lever switched off): a file's own
        # check replaces its parent's whole rather than merging their `versus` overrides.
        base.pop("check", None)
    return merge(base, data)


def extends_target(name: Any, path: Path, roots: tuple[Path, ...], field: str = "extends") -> Path:
    """The scenario file ``extends: name`` in ``path`` names (or a sweep's ``base:``).

    A file next to ``path`` (or a relative or absolute path) inside the scenario's
    roots comes first; a bare name that is no such file names a reference scenario of
    the project (``baseline`` or ``baseline.yaml``), from any folder; ``NAME`` is
    ``NAME.yaml`` in the same folder when there is one. Reference
    scenarios may extend each other. Only YAML files are read (a ``.env`` is refused
    unread), so ``extends:`` cannot read an arbitrary file (docs/scenarios.md).
    """
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(path, field, "a scenario name or file name (a string)")
    bare = not any(sep in name for sep in ("/", "\\")) and name not in (".", "..")
    if (
        bare
        and not name.endswith(SCENARIO_SUFFIXES)
        and os.path.lexists(path.parent / f"{name}.yaml")
    ):
        name = f"{name}.yaml"  # a scenario in the same folder, named without its suffix
    if bare and not os.path.lexists(path.parent / name):
        for candidate in (name, f"{name}.yaml"):
            # os.path.isfile, not Path.is_file: a name too long for the file system is
            # simply no file (Path.is_file raises ENAMETOOLONG).
            if os.path.isfile(REFERENCE_SCENARIOS / candidate) and candidate.endswith(".yaml"):
                return safe_file(
                    candidate, REFERENCE_SCENARIOS, (REFERENCE_SCENARIOS,), path, field,
                    MAX_YAML_BYTES, "scenario file",
                )  # fmt: skip
        if not name.endswith(SCENARIO_SUFFIXES):
            known = ", ".join(reference_names()) or "none found"
            raise ScenarioError(
                path,
                field,
                f"a scenario file or a reference scenario (one of {known}), got '{name}'",
            )
    target = safe_file(
        name, path.parent, (*roots, REFERENCE_SCENARIOS), path, field, MAX_YAML_BYTES,
        "scenario file",
    )  # fmt: skip
    if target.suffix.lower() not in SCENARIO_SUFFIXES:
        raise ScenarioError(path, field, f"a scenario file (.yaml or .yml), got '{name}'")
    return target


def reference_names() -> list[str]:
    """Names of the project's reference scenarios (what ``extends:`` accepts by name)."""
    return sorted(p.stem for p in REFERENCE_SCENARIOS.glob("*.yaml"))


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


def _resolve_paths(scenario: Scenario, file: Path, roots: tuple[Path, ...]) -> Scenario:
    """Resolve every file the scenario names (any field called ``path`` or ``*_path``).

    Each is resolved against the scenario's folder and must be a regular file inside
    one of ``roots``, under :data:`MAX_DATA_BYTES`.
    """
    for where, obj, name, value in _path_fields(scenario, ""):
        try:
            target = safe_file(value, file.parent, roots, file, where)
        except ScenarioError as err:
            if where == "task.path" and scenario.task.name == "movielens":
                # Licensed data is never shipped: say where to get it, not only that it is missing.
                raise ScenarioError(file, where, f"{err.expected}; {MOVIELENS_HINT}") from None
            raise
        setattr(obj, name, str(target))
    return scenario


MOVIELENS_HINT = (
    "MovieLens files are not shipped: download one from https://grouplens.org/datasets/movielens/"
    " and unpack it under data/ (docs/data.md)"
)


def _path_fields(obj: BaseModel, prefix: str) -> list[tuple[str, BaseModel, str, str]]:
    out = []
    for name in type(obj).model_fields:
        value = getattr(obj, name)
        where = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            out += _path_fields(value, f"{where}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    out += _path_fields(item, f"{where}[{i}].")
        elif isinstance(value, str) and (name == "path" or name.endswith("_path")):
            out.append((where, obj, name, value))
    return out


def dump_scenario(scenario: Scenario) -> str:
    """The resolved scenario as YAML (written into every output folder)."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
