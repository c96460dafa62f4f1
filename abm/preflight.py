"""The one pre-run check: everything about a run that can be known before it starts.

Assumption: a scenario that passes :func:`preflight` is refused by nothing in the model
(only the machine can still fail it, by time or memory it did not have). So every check
the model, a learner, a task or a data file would make while building or stepping a run
has its counterpart here, asked before anything runs or is written, with one line
naming the file, the field and what was expected. Every command that runs scenarios
(``run``, ``validate``, ``compare``, ``check``, ``sweep`` for each design point,
``calibrate``, ``viz``, ``bench``) calls it; the run-time guards stay only where they
protect callers of the library, with the same words.

The checks, cheapest first:

- **fit**: each platform's learner works on the task's kind (``abm.learning.fits``; a
  lever's task kinds are checked by the schema, from its entry in ``abm.levers.LEVERS``);
- **split**: the task's rows split into training and test sets with a row of every class
  on each side (``abm.learning.task.split_problem``), for tasks whose size is known;
- **name**: the scenario's name makes an output folder;
- **memory**: the run fits in this machine's memory (``abm.runner.check_memory``);
- **files**: an edge list is read whole; a data file's header is checked and its labels
  (csv, parquet) or its ratings (MovieLens) counted, for the checks above and for
  signal targets, promoted items and users per rater;
- **check**: a ``check:`` block's outcome exists (``abm.check.validate_check``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from abm.messages import printable
from abm.scenario import GraphKind, Scenario, ScenarioError

if TYPE_CHECKING:
    from abm.learning.tasks import TaskShape

__all__ = ["check_files", "check_fit", "preflight"]


def preflight(
    scenario: Scenario,
    file: str | Path | None = None,
    *,
    under: str | None = None,
    at: str = "",
    agents: bool = False,
) -> None:
    """Refuse, before anything runs, every scenario the run would refuse.

    Args:
        scenario: A validated scenario (with its data paths resolved).
        file: The file it came from, for messages.
        under: For a scenario made from ``file`` (a sweep's point, a calibration's
            candidate): the field of ``file`` a refusal is named under, the scenario's
            own field following; a data file's refusal keeps its own file and line.
        at: Appended to such a refusal (the values tried).
        agents: The run reads its users as Mesa agents (the viewer), which memory counts.

    Raises:
        ScenarioError: One line naming the file, the field and what was expected.
    """
    try:
        _preflight(scenario, file, agents)
    except ScenarioError as err:
        if under is None or err.file != printable(file):
            raise
        raise ScenarioError(file, under, f"{err.field}: {err.expected}{at}") from None


def _preflight(scenario: Scenario, file: str | Path | None, agents: bool) -> None:
    from abm.outputs import folder_name
    from abm.runner import check_memory

    check_fit(scenario, file)
    _check_shape(scenario, _known_shape(scenario), file)
    folder_name(scenario.name, file)
    check_memory(scenario, file, agents=agents)
    check_files(scenario, file)
    if scenario.check is not None:  # abm.check (scipy.stats) only where there is a check
        from abm.check import validate_check, versus_scenario

        validate_check(scenario, file)
        # `abm check` runs the lever-off version too: it must pass the same checks.
        preflight(versus_scenario(scenario), file, under="check.versus")


def check_fit(scenario: Scenario, file: str | Path | None = None) -> None:
    """Each platform's learner works on the scenario's task (a lever's: the schema)."""
    from abm.learning import fits

    task = str(scenario.task.name)
    for i, p in enumerate(scenario.platforms):
        reason = fits(p.learner, task)
        if reason is not None:
            raise ScenarioError(
                file, f"platforms[{i}].learner", f"a learner that fits task {task} ({reason})"
            )


def check_files(scenario: Scenario, file: str | Path | None = None) -> None:
    """Check the data files a run will need before it starts.

    An edge list is read whole (every line is checked); a task's data file is opened
    and its header checked (a CSV's columns, a MovieLens file's format), and a CSV's or
    Parquet file's label column or a MovieLens file's ratings counted, so a signal
    target beyond its classes, a promoted item it lacks, more users than raters or a
    split that leaves a class out are refused. Messages name the file and line, never
    the content.
    """
    from abm.learning.registry import TASKS
    from abm.learning.tasks import check_task_file
    from abm.network import read_edgelist

    if scenario.network.kind is GraphKind.EDGELIST and scenario.network.path:
        read_edgelist(Path(scenario.network.path), scenario.population.n_users)
    task = scenario.task
    if task.path and TASKS[task.name].needs_path:
        try:
            name, columns, label = str(task.name), task.feature_columns, task.label_column
            shape = check_task_file(name, task.path, columns, label)
        except ValueError as err:
            raise ScenarioError(file, "task.path", str(err)) from None
        _check_shape(scenario, shape, file)


def _known_shape(scenario: Scenario) -> TaskShape | None:
    """The shape of a bundled or generated task (None: a stream, or read from a file)."""
    from abm.learning.tasks import BUNDLED_ROWS, TaskShape

    name, classes = str(scenario.task.name), scenario.task_classes()
    if name in BUNDLED_ROWS:
        return TaskShape(BUNDLED_ROWS[name], classes)
    if name == "synthetic":
        return TaskShape(scenario.task.n_samples, classes)
    if name == "ratings":
        return TaskShape(scenario.task.n_samples)
    return None


def _check_shape(scenario: Scenario, shape: TaskShape | None, file: str | Path | None) -> None:
    """What the task's data allows: labels, items, users per rater, the train/test split."""
    from abm.learning.task import split_problem

    if shape is None:
        return
    task = scenario.task
    if shape.classes is not None:
        scenario.check_labels(shape.classes, file)
    if shape.items is not None:
        scenario.check_items(shape.items, file)
    n = scenario.population.n_users
    if shape.raters is not None and n > shape.raters:
        raise ScenarioError(
            file, "population.n_users",
            f"at most {shape.raters} users (task {task.name} has {shape.raters} raters and "
            f"each user is one or more of them), got {n}",
        )  # fmt: skip
    problem = split_problem(shape.rows, task.test_size, shape.classes, shape.smallest)
    if problem is not None:
        more = "; or more task.n_samples" if str(task.name) in ("synthetic", "ratings") else ""
        raise ScenarioError(
            file, "task.test_size",
            f"a share leaving both sides of the split enough rows (task {task.name}: "
            f"{problem}{more}), got {task.test_size}",
        )  # fmt: skip
