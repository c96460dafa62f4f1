"""Property-based fuzzing of scenario and sweep files (issue 14, docs/security.md).

Hypothesis builds scenario documents from the schema (every field of
:func:`abm.scenario.schema_rows`), then mutates them: values of the wrong type or out
of range, hostile names and paths, unknown keys, a repeated key, a truncated file,
an alias bomb, strings of control characters, escape sequences, bidi overrides, NUL
and newlines. Each document goes through the ``abm`` command line (``abm.cli.app``,
the code behind the console script) and must end in exit 0, or exit 2 with one line
on stderr; every line printed is printable; never a traceback, never a file written
outside the test's folder, and the three tests together stay within about a minute
(``FUZZ_SECONDS``).

A hostile file found here becomes a named case in tests/test_security.py.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from abm.cli import app
from abm.scenario import schema_rows

FUZZ_SECONDS = float(os.environ.get("ABM_FUZZ_SECONDS", "60"))
BASE = {
    "name": "fuzz",
    "steps": 2,
    "population": {"n_users": 30},
    "network": {"mean_degree": 4},
    "measurement": {"valuation": False, "twins": "off"},
    "platforms": [{"name": "incumbent", "initial_share": 0.7}, {"name": "challenger"}],
    "collectives": [{"name": "union", "target": "incumbent", "size": 0.3}],
}
# Fields a run may vary without becoming slow (the rest are only validated).
CHEAP_LIMITS = {"steps": 3, "population.n_users": 200, "task.n_samples": 3000}

FIELDS = [r["field"].replace("[]", ".0") for r in schema_rows()]
HOSTILE_TEXT = st.sampled_from(
    [
        "../../../escape",
        "/etc/passwd",
        "/proc/self/environ",
        "/dev/zero",
        "a\nb",
        "x" * 300,
        "..",
        "",
        "\x00",
        "\u202eevil",
        "C:\\windows",
        "name with spaces",
        "~",
        "$(touch pwned)",
        "union",
        "incumbent",
    ]
)
VALUES = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=20),
    HOSTILE_TEXT,
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
# Strings an attacker or a careless paste puts where a name or a path goes: C0 and C1
# controls, ANSI and OSC escape sequences, bidirectional overrides and isolates, NUL,
# newlines, line separators, zero-width characters, lone surrogates (issue 24.3).
NASTY_CHARACTERS = (
    [chr(c) for c in range(32)] + ["\x7f", "\x85", "\x9b", "\x9d"]
    + [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200b", "\u200d", "\u2028", "\u2029", "\ufeff", "\ud800"]
)  # fmt: skip
ESCAPES = st.sampled_from(
    ["\x1b[31m", "\x1b]0;owned\x07", "\x1b]52;c;aGVsbG8=\x07", "\x1b[2J", "\x9b1m", "\r\n"]
)
CONTROL_TEXT = st.lists(
    st.one_of(
        st.sampled_from(NASTY_CHARACTERS),
        ESCAPES,
        st.text(alphabet="abcXYZ09_.-/ ", min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=6,
).map("".join)
VALUES = st.one_of(VALUES, CONTROL_TEXT)
SAFE_VALUES = st.one_of(st.integers(0, 3), st.floats(0, 1), st.booleans(), HOSTILE_TEXT)


def _set(doc: dict, path: str, value) -> None:
    node = doc
    parts = path.split(".")
    for part in parts[:-1]:
        if isinstance(node, list):
            index = int(part) if part.isdigit() else 0
            if not node:
                node.append({"name": "added"})
            node = node[min(index, len(node) - 1)]
        else:
            child = node.get(part)
            if not isinstance(child, dict | list):
                child = [] if part in ("platforms", "collectives", "events") else {}
                node[part] = child
            node = child
        if not isinstance(node, dict | list):
            return
    if isinstance(node, list):
        node.append(value)
    else:
        node[parts[-1]] = value


@st.composite
def scenario_texts(draw) -> str:
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    for _ in range(draw(st.integers(0, 4))):
        _set(doc, draw(st.sampled_from(FIELDS)), draw(VALUES))
    if draw(st.booleans()):
        doc[draw(st.sampled_from(["name", "extends", "network.path"]))] = draw(
            st.one_of(HOSTILE_TEXT, CONTROL_TEXT)
        )
    if draw(st.integers(0, 5)) == 0:
        doc["network"] = {"kind": "edgelist", "path": "edges.txt"}
    if draw(st.integers(0, 5)) == 0:
        doc[draw(st.text(min_size=1, max_size=8))] = draw(VALUES)
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    mutation = draw(st.integers(0, 9))
    if mutation == 0:  # truncated
        text = text[: draw(st.integers(0, len(text)))]
    elif mutation == 1:  # a repeated key
        text += text.splitlines()[0] + "\n"
    elif mutation == 2:  # junk bytes spliced in
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=10)) + text[at:]
    elif mutation == 3:  # an alias bomb
        text = (
            "b0: &b0 [x,x,x,x,x,x,x,x]\n"
            + "".join(f"b{i}: &b{i} [" + ",".join([f"*b{i - 1}"] * 8) + "]\n" for i in range(1, 8))
            + text
        )
    return text


@st.composite
def sweep_texts(draw) -> str:
    vary = {}
    for _ in range(draw(st.integers(1, 2))):
        key = draw(st.sampled_from([*FIELDS, "no.such.field", "collectives.union.size"]))
        levels = draw(st.lists(SAFE_VALUES, min_size=0, max_size=2))
        vary[key] = levels
    doc = {"name": draw(st.one_of(st.just("sw"), HOSTILE_TEXT)), "base": "base.yaml",
           "vary": vary, "replicates": 1}  # fmt: skip
    if draw(st.booleans()):
        doc["base"] = draw(HOSTILE_TEXT)
    if draw(st.booleans()):
        doc[draw(st.sampled_from(["steps", "seed", "samples", "design", "outcomes"]))] = draw(
            VALUES
        )
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _outside(folder: Path, out: Path) -> set[str]:
    """The files under ``folder`` but not under ``out`` (the one place a command may write)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_relative_to(out)}


def _stage(arena: Path, name: str, text: str, out: str) -> tuple[Path, Path, set[str]]:
    """Write the fuzzed text to ``arena/name`` (lone surrogates kept as they are); return
    that file, the output folder ``arena/out`` and the files outside it before a command."""
    path = arena / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path, arena / out, _outside(arena, arena / out)


def _check(result, outside_before: set[str], folder: Path, out: Path) -> None:
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), repr(exc)
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr[:500])
    assert "Traceback" not in result.stderr
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("abm: "), result.stderr[:500]
        assert len(lines[0]) < 2000
    for line in (result.stdout + result.stderr).split("\n"):  # nothing unescaped reaches a terminal
        assert line.isprintable(), repr(line)
    now = _outside(folder, out)
    assert now <= outside_before, now - outside_before


def _cheap(text: str) -> bool:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    if not isinstance(doc, dict):
        return False
    for path, limit in CHEAP_LIMITS.items():
        node = doc
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and not (isinstance(node, int) and node <= limit):
            return False
    return True


# The settings both fuzz tests share; each sets its own number of examples.
FUZZ = settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
START: dict[str, float] = {}


def _out_of_time(key: str) -> bool:
    START.setdefault(key, time.monotonic())
    return time.monotonic() - START[key] > FUZZ_SECONDS / 3  # three tests share it


@pytest.fixture(scope="module")
def arena(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "pyproject.toml").write_text("")
    (folder / "base.yaml").write_text(yaml.safe_dump(BASE))
    (folder / "edges.txt").write_text("".join(f"{i} {(i + 1) % 30}\n" for i in range(30)))
    os.mkfifo(folder / "pipe")
    return folder


@settings(FUZZ, max_examples=400)
@given(text=scenario_texts())
def test_fuzzed_scenarios_exit_0_or_2_with_one_line(arena: Path, text: str) -> None:
    if _out_of_time("scenario"):
        return
    path, out, before = _stage(arena, "s.yaml", text, "out")
    runner = CliRunner()
    result = runner.invoke(app, ["validate", str(path)])
    _check(result, before, arena, out)
    if result.exit_code == 0 and _cheap(text):
        result = runner.invoke(app, ["run", str(path), "--out", str(out), "--no-report"])
        _check(result, before, arena, out)


@settings(FUZZ, max_examples=200)
@given(text=sweep_texts())
def test_fuzzed_sweeps_exit_0_or_2_with_one_line(arena: Path, text: str) -> None:
    if _out_of_time("sweep"):
        return
    path, out, before = _stage(arena, "sweep.yaml", text, "sweeps")
    spec = yaml.safe_load(text)
    if any(
        k in CHEAP_LIMITS or k.startswith("measurement") for k in (spec.get("vary") or {})
    ) or not (spec.get("steps") is None or spec.get("steps") in (1, 2, 3)):
        return  # could be slow to run; validation of such files is fuzzed above
    result = CliRunner().invoke(
        app, ["sweep", str(path), "--out", str(out), "--executor", "serial"]
    )
    _check(result, before, arena, out)


# Where a string from a file or the command line reaches a message: a name, a target,
# an event's platform, a check's outcome, an extends, a --set path or value.
STRING_FIELDS = [
    "collectives.0.target", "collectives.0.name", "platforms.0.name", "name", "question",
    "check.outcome", "extends", "network.path", "events.0.platform",
]  # fmt: skip


@settings(FUZZ, max_examples=80)
@given(
    field=st.sampled_from(STRING_FIELDS),
    text=CONTROL_TEXT,
    set_path=st.one_of(st.none(), CONTROL_TEXT),
    set_value=st.one_of(st.none(), CONTROL_TEXT),
)
def test_fuzzed_strings_reach_messages_escaped(arena, field, text, set_path, set_value) -> None:
    """Control characters, escapes, bidi, NUL and newlines: one printable line (24.3)."""
    if _out_of_time("strings"):
        return
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    _set(doc, field, text)
    if field == "check.outcome":
        doc["check"].update(versus={"steps": 3}, direction="lower")
    if field == "events.0.platform":
        doc["events"][0] = {"at": 1, "action": "ai_substitute", "platform": text}
    path, out, before = _stage(
        arena, "strings.yaml", yaml.safe_dump(doc, allow_unicode=True), "out"
    )
    args = ["validate", str(path)]
    if set_path is not None or set_value is not None:
        args += ["--set", f"{set_path or 'question'}={set_value or ''}"]
    result = CliRunner().invoke(app, args)
    _check(result, before, arena, out)
