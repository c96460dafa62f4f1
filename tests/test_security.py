"""Hostile input and faults, through the real command line (issue 14, docs/security.md).

Every case runs ``python -m abm`` in a subprocess and checks what a user sees: one
line on stderr naming the file and field, exit code 2, no traceback, no file content
quoted, and nothing written outside (or, for refused input, inside) ``--out``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from abm.outputs import PARTIAL, _host

ROOT = Path(__file__).resolve().parents[1]
SECRET = "TOPSECRET-do-not-print"
SMALL = """\
name: small
steps: 2
population: {n_users: 40}
network: {mean_degree: 4}
measurement: {valuation: false, twins: "off"}
"""


def abm(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "abm", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
        env=env,
    )


def one_line(proc: subprocess.CompletedProcess, *words: str) -> str:
    """The run failed with exit 2 and one line holding ``words``, and no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr[:2000]
    assert "Traceback" not in proc.stderr and len(lines[0]) < 400, lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder (its root) inside tmp_path, and a secret file outside it."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "pyproject.toml").write_text("")
    (proj / "small.yaml").write_text(SMALL)
    (tmp_path / "secret.yaml").write_text(f"{SECRET}\n")
    return proj


# ----------------------------------------------------------------- output paths


def test_a_name_never_leaves_out(project: Path, tmp_path: Path) -> None:
    out = project / "out"
    before = tree(tmp_path)
    # An absolute name outside the project; short, so that it passes the 64-character limit
    # wherever pytest puts tmp_path.
    outside = Path("/tmp") / f"abm-abs-{os.getpid()}"
    for i, name in enumerate(["../../../escaped", str(outside)]):
        path = project / f"n{i}.yaml"
        path.write_text(f"extends: small.yaml\nname: {yaml.safe_dump(name).splitlines()[0]}\n")
        proc = abm("run", path, "--out", out, "--no-report")
        assert proc.returncode == 0, proc.stderr
    made = list(out.iterdir())
    assert len(made) == 2 and all(p.parent == out and p.is_dir() for p in made)
    new = tree(tmp_path) - before
    scenarios = {f"proj/n{i}.yaml" for i in range(2)}
    assert all(p in scenarios or p == "proj/out" or p.startswith("proj/out/") for p in new)
    assert not outside.exists()


@pytest.mark.parametrize(
    "name, words",
    [
        ('"a\\nb"', ["name", "control characters"]),
        ("x" * 300, ["name", "at most 64 characters"]),
        ('".."', ["name", "letter or digit"]),
    ],
    ids=["newline", "overlong", "dots"],
)
def test_unsafe_names_are_refused_before_the_run(project: Path, name: str, words) -> None:
    path = project / "bad.yaml"
    path.write_text(f"extends: small.yaml\nname: {name}\n")
    out = project / "out"
    one_line(abm("run", path, "--out", out), str(path), *words)
    assert not out.exists()


def test_out_that_is_a_file_is_refused_before_the_run(project: Path) -> None:
    target = project / "afile"
    target.write_text("keep")
    one_line(abm("run", project / "small.yaml", "--out", target), "--out", "a folder")
    assert target.read_text() == "keep"


def test_a_killed_runs_partial_folder_is_removed_by_the_next_run(project: Path) -> None:
    out = project / "out"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = out / f"{PARTIAL}{_host()}-{dead.pid}-abcd1234"
    stale.mkdir(parents=True)
    (stale / "model.csv").write_text("half")
    proc = abm("run", project / "small.yaml", "--out", out, "--no-report")
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists() and not list(out.glob(f"{PARTIAL}*"))


FAIL_AT_STEP_3 = """
import sys
from abm.model import LeverageModel
step = LeverageModel.step
def failing(self):
    if self.steps >= 3:
        raise {error}("planted")
    step(self)
LeverageModel.step = failing
from abm.cli import main
sys.argv = ["abm", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize(
    "error, code, words",
    [("RuntimeError", 1, "failed after step 2 (RuntimeError: planted)"),
     ("MemoryError", 2, "out of memory: the run failed after step 2 (MemoryError: planted)")],
    ids=["error", "out_of_memory"],
)  # fmt: skip
def test_a_run_that_fails_late_keeps_its_steps_and_says_where(
    project: Path, error: str, code: int, words: str
) -> None:
    """Steps computed are kept; running out of memory is exit 2 (too big), not 1 (a bug)."""
    (project / "long.yaml").write_text(SMALL.replace("steps: 2", "steps: 8"))
    out = project / "out"
    proc = subprocess.run(
        [sys.executable, "-c", FAIL_AT_STEP_3.format(error=error), "run",
         str(project / "long.yaml"), "--out", str(out), "--no-report"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert words in lines[0], lines[0]
    (kept,) = out.iterdir()
    assert kept.name.endswith("-failed") and str(kept) in lines[0]
    table = pd.read_csv(kept / "model.csv")
    assert list(table["step"]) == [0, 1, 2]
    assert yaml.safe_load((kept / "manifest.yaml").read_text())["failed"] is True


# ----------------------------------------------------------------- files a scenario names


@pytest.mark.parametrize(
    "text",
    [
        "extends: /etc/shadow\n",
        "extends: /etc/passwd\n",
        "extends: ../../../../../../../../etc/passwd\n",
        "extends: /proc/self/environ\n",
        "extends: ../secret.yaml\n",
        "extends: small.yaml\nnetwork: {kind: edgelist, path: /etc/hosts}\n",
        "extends: small.yaml\ntask: {name: csv, path: ../secret.yaml, label_column: y}\n",
    ],
    ids=["shadow", "passwd", "dotdot", "environ", "sibling", "edgelist", "csv"],
)
def test_files_outside_the_root_are_refused(project: Path, text: str) -> None:
    path = project / "s.yaml"
    path.write_text(text)
    line = one_line(abm("validate", path), str(path), "inside the scenario's root")
    assert SECRET not in line and "root:" not in line


def test_a_link_out_of_the_root_is_refused_and_root_widens(project: Path) -> None:
    (project / "link.yaml").symlink_to(project.parent / "secret.yaml")
    path = project / "s.yaml"
    path.write_text("extends: link.yaml\n")
    line = one_line(abm("validate", path), "extends", "inside the scenario's root")
    assert SECRET not in line
    # --root widens the root; the file is then read, and its content still never shown.
    line = one_line(abm("validate", path, "--root", project.parent), "a mapping")
    assert SECRET not in line


def test_a_fifo_is_refused_unread(project: Path) -> None:
    fifo = project / "pipe"
    os.mkfifo(fifo)
    (project / "a.yaml").write_text("extends: pipe\n")
    (project / "b.yaml").write_text("extends: small.yaml\nnetwork: {kind: edgelist, path: pipe}\n")
    one_line(abm("validate", project / "a.yaml", timeout=60), "extends", "regular file")
    one_line(abm("validate", project / "b.yaml", timeout=60), "network.path", "regular file")
    one_line(abm("validate", fifo, timeout=60), "regular file")


def test_size_limit_and_devices(project: Path) -> None:
    from abm.scenario import ScenarioError, safe_file

    big = project / "big.txt"
    big.write_bytes(b"0 1\n" * 1000)
    with pytest.raises(ScenarioError, match="at most 100 bytes"):
        safe_file("big.txt", project, (project,), "s.yaml", "network.path", limit=100)
    path = project / "d.yaml"
    path.write_text("extends: /dev/zero\n")
    one_line(abm("validate", path, "--root", "/dev", timeout=60), "regular file")


@pytest.mark.parametrize(
    "edges, words",
    [
        ("0 1\n1 2\n2 -3\n", ["line 3", "negative id"]),
        ("0 1\n1 \x01zzqx\n", ["line 2", "unusable token"]),
        ("0 1\n1 2 3 4\n", ["line 2", "columns"]),
        ("0 1\n1 2\n", ["population.n_users (40) distinct nodes, got 3"]),
    ],
    ids=["negative", "junk", "columns", "too_few_nodes"],
)
def test_edge_list_junk_is_refused(project: Path, edges: str, words) -> None:
    (project / "edges.txt").write_text(edges)
    path = project / "s.yaml"
    path.write_text("extends: small.yaml\nnetwork: {kind: edgelist, path: edges.txt}\n")
    line = one_line(abm("validate", path), "edges.txt", *words)
    assert "zzqx" not in line
    assert not (project / "out").exists()


def test_csv_label_that_is_a_feature_is_refused(project: Path) -> None:
    (project / "d.csv").write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40)))
    path = project / "s.yaml"
    path.write_text(
        "extends: small.yaml\n"
        "task: {name: csv, path: d.csv, label_column: y, feature_columns: [a, y]}\n"
    )
    one_line(abm("validate", path), "task.feature_columns[1]", "label column 'y'")


# ----------------------------------------------------------------- YAML limits


def _bomb(levels: int = 9) -> str:
    text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, levels):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n"
    return text


@pytest.mark.parametrize(
    "text, words",
    [
        (_bomb(), ["values once aliases are expanded"]),
        ("x: " + "[" * 3000 + "]" * 3000 + "\n", ["line 1", "nesting at most"]),
        ("steps: 3\nseed: 1\nsteps: 4\n", ["line 3", "each key once", "'steps'"]),
        ("name: x\nquestion: '" + "q" * (2 << 20) + "'\n", ["at most 1,048,576 bytes"]),
    ],
    ids=["alias_bomb", "deep", "duplicate_key", "huge"],
)
def test_yaml_limits(tmp_path: Path, text: str, words) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    start = time.monotonic()
    one_line(abm("validate", path, timeout=60), str(path), *words)
    assert time.monotonic() - start < 60


# ----------------------------------------------------------------- command-line values


@pytest.mark.parametrize(
    "args, words",
    [
        (["--steps", "0"], ["steps", ">= 1"]),
        (["--steps", "-3"], ["steps", ">= 1"]),
        (["--steps", "1000000000"], ["steps", "<= 100000"]),
        (["--seed", "-1"], ["seed", ">= 0"]),
        (["--set", "seed.x=1"], ["--set seed.x"]),
        (["--set", "population.n_users=5000000", "--set", "network.mean_degree=1000"],
         ["population.n_users", "GiB", "this machine allows"]),
    ],
    ids=["steps0", "steps_negative", "steps_huge", "seed_negative", "set_through_scalar",
         "memory"],
)  # fmt: skip
def test_command_line_values_go_through_the_schema(project: Path, args, words) -> None:
    out = project / "out"
    one_line(abm("run", project / "small.yaml", "--out", out, *args), *words)
    assert not out.exists()


# ----------------------------------------------------------------- sweeps


SWEEP = """\
name: tiny
base: small.yaml
vary:
  population.n_users: [30, 40]
replicates: 2
"""


def test_a_sweep_never_writes_into_a_folder_it_did_not_create(project: Path) -> None:
    (project / "sweep.yaml").write_text(SWEEP)
    foreign = project / "out" / "tiny"
    foreign.mkdir(parents=True)
    (foreign / "results.csv").write_text("precious\n")
    line = one_line(abm("sweep", project / "sweep.yaml", "--out", project / "out"), "name")
    assert "a folder this sweep created" in line
    assert tree(foreign) == {"results.csv"} and (foreign / "results.csv").read_text() == (
        "precious\n"
    )


def test_a_sweep_resumes_over_stale_temp_files_and_reruns_a_corrupt_run(project: Path) -> None:
    (project / "sweep.yaml").write_text(SWEEP)
    out = project / "out"
    args = ("sweep", project / "sweep.yaml", "--out", out, "--executor", "serial")
    assert abm(*args).returncode == 0
    folder = out / "tiny"
    # A kill during the final combine leaves temp files; a crash can truncate a run file.
    (folder / ".results.csv.tmp").write_text("run_id,junk\nxx,1\n")
    (folder / ".results.csv.12345.tmp").write_text("run_id,junk\nxx,1\n")
    victim = sorted((folder / "runs").glob("p*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:20])
    proc = abm(*args)
    assert proc.returncode == 0, proc.stderr
    assert "1 resumed" not in proc.stdout and "3 resumed" in proc.stdout, proc.stdout
    table = pd.read_csv(folder / "results.csv")
    assert len(table) == 4 and list(table.columns[:4]) == ["run_id", "point", "replicate", "seed"]
    assert not list(folder.glob(".*.tmp"))


def _children(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def test_sweep_workers_die_with_a_sigkilled_parent(project: Path) -> None:
    import psutil

    (project / "slow.yaml").write_text(SMALL.replace("steps: 2", "steps: 200"))
    (project / "sweep.yaml").write_text(SWEEP.replace("small.yaml", "slow.yaml") + "seed: 3\n")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    parent = subprocess.Popen(
        [sys.executable, "-m", "abm", "sweep", str(project / "sweep.yaml"), "-j", "2",
         "--out", str(project / "out")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = _children(parent.pid)
            time.sleep(0.5)
        assert len(workers) >= 2, "the sweep never started its workers"
        time.sleep(2)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 20
        alive = workers
        while time.monotonic() < deadline and alive:
            alive = [
                p for p in alive
                if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
            ]  # fmt: skip
            time.sleep(0.5)
        assert not alive, f"workers outlived their parent: {alive}"
    finally:
        for pid in [parent.pid, *_children(parent.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ----------------------------------------------------------------- round three (issue 24)
# In process (typer's CliRunner, the code behind the console script): fast, and what a
# user sees is the same stderr and exit code.


def cli(*args: str | Path) -> Any:
    from typer.testing import CliRunner

    from abm.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def refused(result: Any, *words: str) -> str:
    """Exit 2 and one printable line on stderr (no escape, no newline), holding ``words``."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("abm: "), result.stderr[:2000]
    assert lines[0].isprintable(), repr(lines[0])
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


PLANT = "API_TOKEN=TOPSECRET-do-not-print"


def _ratings(fmt: str, bad_line: int) -> str:
    """A small ratings file in ``fmt`` whose line ``bad_line`` is the secret."""
    sep = {"u.data": "\t", "ratings.dat": "::", "ratings.csv": ","}[fmt]
    lines = [sep.join(map(str, (u, i, 1 + (u + i) % 5, 1000 * u + i)))
             for u in range(40) for i in range(3)]  # fmt: skip
    if fmt == "ratings.csv":
        lines.insert(0, "userId,movieId,rating,timestamp")
    lines[bad_line - 1] = PLANT if bad_line == 1 else sep.join(["1", "2", PLANT, "4"])
    return "\n".join(lines) + "\n"


# (case id, files to write, the scenario's own lines); the scenario extends small.yaml.
SECRET_CASES = [
    ("extends_env", {".env": PLANT + "\n"}, "extends: .env\n"),
    ("extends_yaml_secret", {"creds.yaml": f"{PLANT.split('=')[0]}: {SECRET}\n"},
     "extends: creds.yaml\n"),
    ("yaml_alias", {}, f"extends: small.yaml\nquestion: *{SECRET}\n"),
    ("yaml_tag", {}, f"extends: small.yaml\nquestion: !{SECRET} x\n"),
    ("edgelist_token", {"e.txt": f"0 1\n1 {PLANT}\n"},
     "extends: small.yaml\nnetwork: {kind: edgelist, path: e.txt}\n"),
    ("edgelist_columns", {"e.txt": f"0 1\n1 2 3 {SECRET}\n"},
     "extends: small.yaml\nnetwork: {kind: edgelist, path: e.txt}\n"),
    ("edgelist_weight", {"e.txt": f"0 1 {SECRET}\n"},
     "extends: small.yaml\nnetwork: {kind: edgelist, path: e.txt}\n"),
    ("movielens_env", {".env": PLANT + "\n"},
     "extends: small.yaml\ntask: {name: movielens, path: .env}\n"),
    *[(f"movielens_{fmt}_line{n}", {fmt: _ratings(fmt, n)},
       f"extends: small.yaml\ntask: {{name: movielens, path: {fmt}}}\n")
      for fmt in ("u.data", "ratings.dat", "ratings.csv") for n in (1, 3)],
    ("csv_header", {".env": PLANT + "\n1\n"},
     "extends: small.yaml\ntask: {name: csv, path: .env, label_column: y}\n"),
    ("csv_no_label", {"d.csv": f"{PLANT},y\n1,0\n"},
     "extends: small.yaml\ntask: {name: csv, path: d.csv}\n"),
    ("csv_cell", {"d.csv": "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40))
                  + f"{SECRET},1\n"},
     "extends: small.yaml\ntask: {name: csv, path: d.csv, label_column: y}\n"),
]  # fmt: skip


@pytest.mark.parametrize(
    "files, text", [c[1:] for c in SECRET_CASES], ids=[c[0] for c in SECRET_CASES]
)
def test_no_message_shows_a_files_content(project: Path, files: dict, text: str) -> None:
    """A secret planted in every kind of input file never reaches a message (issue 24.1)."""
    for name, content in files.items():
        (project / name).write_text(content)
    path = project / "s.yaml"
    path.write_text(text)
    out = project / "out"
    checked = cli("validate", path)  # a header is checked here; a later line by the run
    assert checked.exit_code in (0, 2) and SECRET not in checked.output, checked.output
    if checked.exit_code == 2:
        refused(checked)
    result = cli("run", path, "--out", out, "--no-report")
    line = refused(result)
    assert SECRET not in result.output, line
    assert not out.exists()


@pytest.mark.parametrize("command", ["sweep", "calibrate"])
def test_no_message_shows_a_sweep_or_calibration_files_content(project: Path, command) -> None:
    (project / ".env").write_text(PLANT + "\n")
    for i, text in enumerate([f"name: s\nbase: small.yaml\nvary: *{SECRET}\n",
                              f"name: s\nbase: small.yaml\n{SECRET}: [1\n",
                              "name: s\nbase: .env\n"]):  # fmt: skip
        path = project / f"{command}{i}.yaml"
        path.write_text(text)
        result = cli(command, path, "--out", project / "out")
        refused(result, str(path))
        assert SECRET not in result.output


ESC = "\x1b]52;c;aGVsbG8=\x07\x1b]0;owned\x07\x1b[31m\u202e\x00"


@pytest.mark.parametrize(
    "text, args",
    [
        (f"extends: small.yaml\ncollectives: [{{name: u, target: {json.dumps(ESC)}}}]\n", []),
        ("extends: small.yaml\ncollectives: [{name: u, target: \"incum\\nbent\"}]\n", []),
        ("extends: small.yaml\ncheck: {outcome: \"final_quality[inc\\numbent]\","
         " versus: {steps: 3}, direction: lower}\n", []),
        ("extends: small.yaml\n", ["--set", f"collectives.{ESC}.size=1"]),
        ("extends: small.yaml\n", ["--set", f"steps={ESC}"]),
        (f"extends: {json.dumps('no' + ESC + '.yaml')}\n", []),
    ],
    ids=["osc_target", "newline_target", "newline_outcome", "set_path", "set_value", "extends"],
)  # fmt: skip
def test_no_escape_sequence_reaches_the_terminal(project: Path, text: str, args: list) -> None:
    """Strings from a file or the command line are shown escaped, on one line (24.3)."""
    path = project / "s.yaml"
    path.write_text(text)
    result = cli("validate", path, *args)
    refused(result)
    assert not any(c in result.output for c in "\x1b\x07\x00\u202e"), repr(result.output)


def test_abm_list_escapes_questions_and_file_names(project: Path) -> None:
    folder = project / "list"
    folder.mkdir()
    (folder / "q.yaml").write_text(f"name: q\nquestion: {json.dumps(ESC + 'Why?')}\n")
    (folder / "bad\x1b[2J.yaml").write_text("name: [\n")
    result = cli("list", folder)
    assert result.exit_code == 0, result.output
    for line in result.output.splitlines():
        assert line.isprintable(), repr(line)
    assert "\\x1b]52;c;" in result.output and "Why?" in result.output
    assert "bad\\x1b[2J" in result.output


@pytest.mark.parametrize("command", ["run", "sweep", "check"])
def test_an_out_that_cannot_be_written_is_refused_before_the_run(project: Path, command) -> None:
    """--out under /proc passed the permission check (root) and failed after the run (24.5)."""
    (project / "sweep.yaml").write_text(SWEEP)
    (project / "checked.yaml").write_text(
        "extends: small.yaml\n"
        "check: {outcome: 'final_quality[incumbent]', versus: {steps: 3}, direction: lower}\n"
    )
    file = {"run": "small.yaml", "sweep": "sweep.yaml", "check": "checked.yaml"}[command]
    result = cli(command, project / file, "--out", "/proc/abm-test/out")
    refused(result, "--out", "a folder this process can write")  # one line: no progress, no run


@pytest.mark.parametrize(
    "sets, words",
    [
        (["task.name=stream", "task.stream.n_test=1000000", "task.stream.n_features=10000"],
         ["task stream", "GiB of data", "this machine allows"]),
        (["task.name=stream", "task.stream.n_groups=10000", "task.stream.n_classes=1000",
          "task.stream.n_features=1000"], ["task stream", "GiB"]),
    ],
    ids=["held_out_set", "class_means"],
)  # fmt: skip
def test_the_memory_estimate_counts_the_task(project: Path, sets: list, words: list) -> None:
    args = [a for s in sets for a in ("--set", s)]
    out = project / "out"
    refused(cli("run", project / "small.yaml", "--out", out, *args), "needs about", *words)
    assert not out.exists()


def test_the_memory_estimate_counts_an_edge_lists_edges(project: Path, monkeypatch) -> None:
    """Edges read from the file, not network.mean_degree, set the estimate (24.5)."""
    import abm.runner

    n, edges = 400, 300_000
    rng = np.random.default_rng(0)
    pairs = np.column_stack([np.arange(edges) % n, rng.integers(0, n, edges)])
    np.savetxt(project / "e.txt", pairs, fmt="%d")
    path = project / "s.yaml"
    path.write_text(
        f"extends: small.yaml\npopulation: {{n_users: {n}}}\n"
        "network: {kind: edgelist, path: e.txt}\n"
    )
    limit = (
        abm.runner.MEMORY_FIXED
        + n * abm.runner.MEMORY_PER_USER
        + edges * abm.runner.MEMORY_PER_EDGE
    )
    monkeypatch.setattr(abm.runner, "memory_limit", lambda: limit)
    refused(cli("validate", path), "an edge list of 300,000 edges", "needs about")
    monkeypatch.setattr(abm.runner, "memory_limit", lambda: 4 * limit)
    assert cli("validate", path).exit_code == 0


def test_an_edge_list_reads_under_a_small_address_space(project: Path) -> None:
    """The reader asked for an 8 GiB + 1 byte buffer up front: a 6 GiB limit failed (24.5)."""
    import resource

    (project / "e.txt").write_text("".join(f"{i} {(i + 1) % 40}\n" for i in range(40)))
    path = project / "s.yaml"
    path.write_text("extends: small.yaml\nnetwork: {kind: edgelist, path: e.txt}\n")
    limit = 6 << 30

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = subprocess.run(
        [sys.executable, "-m", "abm", "validate", str(path)], capture_output=True, text=True,
        cwd=ROOT, timeout=120, preexec_fn=cap, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "name, content",
    [("e.txt", "\ufeff" + "".join(f"{i} {(i + 1) % 40}\n" for i in range(40))),
     ("ratings.csv", "\ufeff" + _ratings("ratings.csv", 2).replace(PLANT, "5", 1))],
    ids=["edgelist", "ratings_csv"],
)  # fmt: skip
def test_a_byte_order_mark_is_accepted(project: Path, name: str, content: str) -> None:
    (project / name).write_text(content, encoding="utf-8")
    path = project / "s.yaml"
    field = (
        "network: {kind: edgelist, path: e.txt}"
        if name == "e.txt"
        else (
            "task: {name: movielens, path: ratings.csv}\n"
            "platforms: [{name: incumbent, learner: mf}, {name: challenger, learner: mf}]"
        )
    )
    path.write_text(f"extends: small.yaml\n{field}\n")
    result = cli("run", path, "--out", project / "out", "--no-report")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "edges, words",
    [(bytes(range(128, 256)) * 4, ["line 1", "UTF-8 text"]),
     (b"0 1\n1 2\n", ["distinct nodes, got 3"])],
    ids=["garbage", "too_few_nodes"],
)  # fmt: skip
def test_a_sweep_refuses_a_bad_edge_list_before_it_runs(project: Path, edges: bytes, words) -> None:
    """Exit 1 after every run had failed; now exit 2 before the first (issue 24 intro)."""
    (project / "e.txt").write_bytes(edges)
    (project / "g.yaml").write_text("extends: small.yaml\nnetwork: {kind: edgelist, path: e.txt}\n")
    (project / "sweep.yaml").write_text(SWEEP.replace("small.yaml", "g.yaml"))
    out = project / "out"
    refused(cli("sweep", project / "sweep.yaml", "--out", out, "--executor", "serial"), *words)
    assert not out.exists()


def _alias_bomb_value() -> str:
    inner = ", ".join(
        f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}" if i else "x"] * 10) + "]" for i in range(9)
    )
    return "{" + inner + "}"


@pytest.mark.parametrize(
    "args, words",
    [
        (["--set", f"question={_alias_bomb_value()}"], ["--set question", "aliases are expanded"]),
        (["--set", "question=" + "[" * 5000 + "]" * 5000], ["--set question", "nesting at most"]),
        (["--set", "a" + ".b" * 3000 + "=1"], ["at most 16 parts"]),
        (["--set", "steps=true"], ["steps", "a whole number, got true"]),
        (["--set", "policy.portability=yes"], ["policy.portability", "a number, got 'yes'"]),
        (["--set", "policy.right_to_delete=1"], ["policy.right_to_delete", "true or false"]),
        (["--seed", "1.5"], ["--seed"]),
    ],
    ids=["alias_bomb", "deep_value", "deep_path", "steps_true", "portability_yes",
         "bool_from_int", "float_seed"],
)  # fmt: skip
def test_command_line_values_are_refused_fast_in_one_line(project: Path, args, words) -> None:
    start = time.monotonic()
    refused(cli("run", project / "small.yaml", "--out", project / "out", *args), *words)
    assert time.monotonic() - start < 30 and not (project / "out").exists()


def test_a_signal_target_beyond_a_csv_tasks_classes_is_refused(project: Path) -> None:
    """A file's classes are known once read: validate reads the label column (24.6)."""
    (project / "d.csv").write_text("a,y\n" + "".join(f"{i},{i % 3}\n" for i in range(60)))
    path = project / "s.yaml"
    path.write_text(
        "extends: small.yaml\ntask: {name: csv, path: d.csv, label_column: y}\n"
        "collectives: [{name: u, target: incumbent, lever: plant_signal, signal: {target: 5}}]\n"
    )
    for command in (["validate", path], ["run", path, "--out", project / "out"]):
        refused(cli(*command), str(path), "collectives[0].signal.target", "(0 to 2), got 5")
    assert not (project / "out").exists()


def test_a_bad_option_is_one_line_not_a_usage_block() -> None:
    refused(cli("viz", "--port", "0"), "--port", "abm viz --help")
    refused(cli("run", "--bogus"), "--bogus")


# ----------------------------------------------------------------- extends by name


def test_extends_names_a_reference_scenario_from_any_folder(tmp_path: Path) -> None:
    """A first scenario of one's own, outside the project (issue 23.5)."""
    mine = tmp_path / "mine"
    mine.mkdir()
    for i, parent in enumerate(
        ["baseline", "data_strike.yaml", str(ROOT / "scenarios/boycott.yaml")]
    ):
        (mine / f"s{i}.yaml").write_text(f"extends: {parent}\nname: mine{i}\nsteps: 3\n")
        result = cli("validate", mine / f"s{i}.yaml")
        assert result.exit_code == 0, result.output
    (mine / "data_strike.yaml").write_text("extends: baseline\nsteps: 4\n")
    (mine / "s.yaml").write_text("extends: data_strike\n")
    assert "(500 users, 4 steps)" in cli("validate", mine / "s.yaml").output  # its folder first
    (mine / "t.yaml").write_text("extends: basline\n")
    refused(cli("validate", mine / "t.yaml"), "a reference scenario (one of", "baseline,")
    (tmp_path / "secret.yaml").write_text(f"{SECRET}: 1\n")
    (mine / "u.yaml").write_text(f"extends: {tmp_path / 'secret.yaml'}\n")
    refused(cli("validate", mine / "u.yaml"), "inside the scenario's root")
    (mine / ".env").write_text(PLANT + "\n")
    (mine / "v.yaml").write_text("extends: .env\n")
    line = refused(cli("validate", mine / "v.yaml"), "a scenario file (.yaml or .yml)")
    assert SECRET not in line


# ----------------------------------------------------------------- the viewer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(url: str, host: str) -> int | None:
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


def test_the_viewer_refuses_a_foreign_host_header() -> None:
    from abm.viz.server import viewer_command, viewer_env

    port = _free_port()
    proc = subprocess.Popen(
        viewer_command("127.0.0.1", port),
        env=viewer_env(ROOT / "scenarios" / "baseline.yaml"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline, status = time.monotonic() + 90, None
        while time.monotonic() < deadline and status is None:
            assert proc.poll() is None
            status = _status(url, f"127.0.0.1:{port}")
            time.sleep(0.3)
        assert status == 200
        assert _status(url, f"localhost:{port}") == 200
        assert _status(url, f"attacker.example:{port}") == 403  # DNS rebinding
        assert _status(url, "127.0.0.1:1") == 403
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_host_rules_for_a_wildcard_bind() -> None:
    from abm.viz.server import allowed_hosts

    ok = allowed_hosts("0.0.0.0", 8765)
    assert ok("10.1.2.3:8765") and ok("[::1]:8765")
    assert not ok("rebind.attacker.example:8765") and not ok("10.1.2.3:80") and not ok("")


def test_progress_shows_a_sweeps_name_as_text(project: Path) -> None:
    # The progress bar's label is the sweep's name, from the file (control characters are
    # refused in names; format characters are not): a bidi override or rich markup in it is
    # shown as text, never acted on.
    name = "\u202eevil[red]x"
    sweep = {"name": name, "base": "small.yaml", "vary": {"steps": [1, 2]}, "replicates": 1}
    (project / "s.yaml").write_text(yaml.safe_dump(sweep, allow_unicode=True))
    proc = abm("sweep", project / "s.yaml", "--out", project / "out", "--executor", "serial")
    assert proc.returncode == 0, proc.stderr
    assert all(c.isprintable() or c == "\n" for c in proc.stderr), repr(proc.stderr)
    assert "\\u202eevil[red]x" in proc.stderr
