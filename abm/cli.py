"""The ``abm`` command line: thin commands over the library.

Every command that reads a scenario or sweep file turns a bad file into one line on
stderr naming the file, the field and what was expected, and exits with code 2,
before anything is written.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer
from typer.core import TyperCommand, TyperGroup

import abm
from abm.messages import printable
from abm.scenario import ScenarioError, load_scenario
from abm.words import plural

if TYPE_CHECKING:
    from abm.sweep import ExecutorKind


class _OneLineUsage(TyperGroup):
    """The command group, with usage errors (``--seed 1.5``, ``--port 0``) as one line.

    Click would print a usage block and a framed message; like every refusal, a bad
    option is one line on stderr and exit code 2. Help asked for (``abm`` alone,
    ``--help``) is printed as help.
    """

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:  # noqa: D102
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.TyperException as err:
            if type(err).__name__ == "NoArgsIsHelpError":  # `abm` alone: the help, as asked
                err.show()
                sys.exit(err.exit_code)
            where = err.ctx.command_path.partition(" ")[2] if getattr(err, "ctx", None) else ""
            message = " ".join(err.format_message().split())
            hint = f" (abm {where} --help)" if where else " (abm --help)"
            say(f"abm: {where + ': ' if where else ''}{message}{hint}", err=True)
            sys.exit(err.exit_code)
        except typer.Abort:
            say("abm: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


class PlainCommand(TyperCommand):
    """A command whose help reads like any click or argparse tool's.

    Typer labels values with Python types (``<int range>``, ``<list[str]>``, ``<path>``);
    this gives each argument and option without an explicit ``metavar`` the upper-case
    word click uses (``SCENARIO``, ``INTEGER``, ``PATH``, ``TEXT``), so every command,
    including ones added later, shows the same plain help.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: D107 - the class says it
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.metavar is None and not getattr(param, "is_flag", False):
                param.metavar = _metavar(param)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """``[OPTIONS] SCENARIO``: arguments as click writes them (``[NAME]`` if optional)."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(param.metavar if param.required else f"[{param.metavar}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        """The Arguments and Options sections, each value named by its metavar alone."""
        args, opts = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                args.append((param.metavar, record[1]))
            else:
                opts.append(record)
        for title, rows in (("Arguments", args), ("Options", opts)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


WORDS = {int: "INTEGER", float: "FLOAT", str: "TEXT", bool: "BOOLEAN"}


def _metavar(param: Any) -> str:
    """Click's word for a value: the argument's name, else PATH, INTEGER, TEXT, ..."""
    desc = param.type_descriptor
    if param.param_type_name == "argument":
        return param.name.upper() + ("..." if desc.is_list else "")
    if desc.is_path:
        return "PATH"
    if desc.is_choice:
        return "[" + "|".join(str(c) for c in desc.choices) + "]"
    kind = desc.annotation
    if desc.is_list:
        kind = get_args(kind)[0]
    if isinstance(kind, type) and issubclass(kind, Path):
        return "PATH"
    return WORDS.get(kind, "VALUE")


class App(typer.Typer):
    """The ``abm`` application: every command gets :class:`PlainCommand`'s help."""

    def command(self, *args: Any, cls: type[TyperCommand] | None = None, **kwargs: Any) -> Any:
        """Register a command (see :meth:`typer.Typer.command`) with plain help by default."""
        return super().command(*args, cls=cls or PlainCommand, **kwargs)


app = App(
    cls=_OneLineUsage,
    name="abm",
    help="An agent-based simulator of data leverage: what a collective's strike, boycott, "
    "data contribution or poisoning wins, and what it costs whom.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no boxes, the terminal's own wrapping
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"abm {abm.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """An agent-based simulator of data leverage."""


SCENARIOS = Path("scenarios")
OutOption = Annotated[Path, typer.Option("--out", help="Output root folder.")]
# Where the runs of a sweep, calibration or check execute (abm/sweep/executors.py).
JobsOption = Annotated[
    int | None, typer.Option("-j", "--jobs", min=1, help="Worker processes (default: all cores).")
]
ExecutorOption = Annotated[
    str, typer.Option(help="Where runs execute: local (process pool), dask or serial.")
]
SchedulerOption = Annotated[
    str | None, typer.Option(help="Join an existing Dask scheduler, e.g. tcp://host:8786.")
]
RootOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--root",
        help="Also allow files the scenario names inside this folder (repeatable).",
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", metavar="FIELD=VALUE", help="Override a field: path.to.field=value (repeatable)."
    ),
]


def say(text: str, err: bool = False) -> None:
    """Print one line that may hold text from a file or the command line, printable."""
    typer.echo(printable(text), err=err)


def fail(message: str, code: int = 2) -> None:
    """Print one line to stderr and exit."""
    say(f"abm: {message}", err=True)
    raise typer.Exit(code)


def user_errors(fn: Callable) -> Callable:
    """Turn bad input into one line and exit code 2, with no traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ScenarioError as err:
            fail(str(err))
        except (FileNotFoundError, ValueError) as err:
            fail(_one_line(err))
        except MemoryError:
            fail(f"out of memory: {OUT_OF_MEMORY}")
        except typer.Exit:
            raise
        except Exception as err:  # a failed write or a bug: still one line, no traceback
            from abm.outputs import WriteFailed

            if isinstance(err, WriteFailed):
                fail(str(err), 1)
            fail(f"internal error ({type(err).__name__}: {_one_line(err)})", 1)

    return wrapper


OUT_OF_MEMORY = (
    "the run needed more memory than this machine allows (fewer users, neighbours"
    " or steps, or a smaller task, would fit)"
)


def _run_failed(what: str, err: Any, kept: Path) -> None:
    """One line for a run that failed part-way; its exit code says why.

    2 when it ran out of memory (too big for this machine, like a refused input), 1 for
    anything else.
    """
    oom = isinstance(err.error, MemoryError)
    cause = "out of memory: " if oom else ""
    fail(f"{what}: {cause}{err}; the steps computed are kept in {kept}", 2 if oom else 1)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _with_seed_steps(set_: list[str] | None, seed: int | None, steps: int | None) -> list[str]:
    """``--seed``/``--steps`` as overrides, so the schema checks them like any field."""
    extra = [f"seed={seed}"] if seed is not None else []
    extra += [f"steps={steps}"] if steps is not None else []
    return [*(set_ or []), *extra]


@app.command()
@user_errors
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    seed: Annotated[int | None, typer.Option(help="Seed (default: the scenario's).")] = None,
    steps: Annotated[int | None, typer.Option(help="Steps (default: the scenario's).")] = None,
    out: OutOption = Path("outputs"),
    set_: SetOption = None,
    root: RootOption = None,
    report: Annotated[bool, typer.Option(help="Write the HTML report.")] = True,
    replicates: Annotated[
        int | None,
        typer.Option(min=1, help="Run N paired seeds spawned from the seed; report 95% intervals."),
    ] = None,
) -> None:
    """Run a scenario and write a new results folder under --out."""
    from abm.outputs import check_out_root, prove_writable, write_run
    from abm.preflight import preflight
    from abm.runner import RunFailed, simulate

    overrides = _with_seed_steps(set_, seed, steps)
    spec = load_scenario(scenario, overrides, extra_roots=root or ())
    changes = _changes(scenario, spec, root) if overrides else []
    # Everything that can fail before the run is checked before it; --out is proved writable last.
    check_out_root(out)
    preflight(spec, scenario)
    prove_writable(out)
    if replicates is not None:
        _run_replicates(spec, replicates, out, report, changes)
        return
    try:
        result = simulate(spec, progress=True)
    except RunFailed as err:
        kept = write_run(err.result, out)
        _run_failed(str(scenario), err, kept)
    result.extra["changes"] = changes
    extra = {}
    if report:
        from abm.report import write_report

        extra["report.html"] = lambda path: write_report(result, path)
    folder = write_run(result, out, extra)
    say(f"wrote {folder}")
    _print_answers(result)
    for name, value in result.outcomes.items():
        say(f"  {name:40s} {value: .4f}")


def _changes(file: Path, spec: Any, root: list[Path] | None) -> list[tuple[str, Any, Any]]:
    """The fields where the run differs from its file (``--set``, ``--seed``, ``--steps``)."""
    from abm.scenario.paths import differences

    return differences(load_scenario(file, extra_roots=root or ()), spec)


def _print_answers(result: Any) -> None:
    """The report's answer to the scenario's question, so the terminal shows it too."""
    from abm.report import answers

    for sentence in answers(result):
        say(sentence)


def _run_replicates(spec: Any, n: int, out: Path, report: bool, changes: list) -> None:
    """``abm run --replicates N``: paired seeds, every run kept, a summary with intervals."""
    from abm.outputs import write_replicates, write_run
    from abm.runner import RunFailed, simulate_replicates, summarise

    try:
        results = simulate_replicates(spec, n, progress=True)
    except RunFailed as err:
        kept = write_run(err.result, out)
        _run_failed(f"seed {err.result.seed}", err, kept)
    from abm.report import with_replicates, write_report

    summary = summarise(results)
    for r in results:
        r.extra["changes"] = changes
    extra = {}
    seeds = [r.seed for r in results]
    if report:
        extra["report.html"] = lambda path: write_report(results[0], path, summary, seeds)
    folder = write_replicates(results, summary, out, extra)
    say(f"wrote {folder} ({plural(n, 'seed')}; mean and 95% interval)")
    _print_answers(with_replicates(results[0], summary, seeds))
    for row in summary.itertuples():
        say(f"  {row.outcome:40s} {row.mean: .4f}  [{row.low: .4f}, {row.high: .4f}]")


@app.command()
@user_errors
def validate(
    scenario: Annotated[list[Path], typer.Argument(help="Scenario YAML file(s).")],
    set_: SetOption = None,
    root: RootOption = None,
) -> None:
    """Check scenario files without running them: what abm run would refuse, refused here."""
    from abm.preflight import preflight

    for path in scenario:
        spec = load_scenario(path, set_, extra_roots=root or ())
        preflight(spec, path)
        users, steps_ = plural(spec.population.n_users, "user"), plural(spec.steps, "step")
        say(f"{path}: ok ({users}, {steps_})")


@app.command()
@user_errors
def sweep(
    sweep_file: Annotated[Path, typer.Argument(help="Sweep YAML file.")],
    jobs: JobsOption = None,
    executor: ExecutorOption = "local",
    scheduler: SchedulerOption = None,
    out: Annotated[Path, typer.Option("--out", help="Root of sweep folders.")] = Path(
        "outputs/sweeps"
    ),
    root: RootOption = None,
    replicates: Annotated[
        int | None, typer.Option(min=1, help="Runs per point (default: the sweep file's).")
    ] = None,
    steps: Annotated[
        int | None, typer.Option(min=1, help="Steps per run (default: the sweep file's).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="FIELD=VALUE",
            help="Set a base-scenario field: path.to.field=value (repeatable).",
        ),
    ] = None,
) -> None:
    """Run a parameter sweep into OUT/<name>/ (rerun to resume; finished runs are kept).

    --replicates, --steps and --set shrink a sweep to try it first; they are recorded in
    the manifest. --steps or --set make a different sweep (its folder is
    OUT/<name>-cli-<hash>), so the full sweep's folder is never mixed with it.
    """
    import os

    from abm.outputs import prove_writable
    from abm.sweep import load_sweep

    kind = _executor_kind(executor, scheduler)

    spec = load_sweep(sweep_file, extra_roots=root or (), replicates=replicates, steps=steps,
                      overrides=set_)  # fmt: skip
    prove_writable(out)
    report = _run_sweep(spec, out, kind, jobs or os.cpu_count() or 1, scheduler)
    say(
        f"wrote {report.folder}/results.parquet and summary.csv: {report.done} of "
        f"{report.total} runs ({report.skipped} resumed, {report.failed} failed); "
        f"figure: abm figure {report.folder}"
    )
    if report.done + report.failed < report.total:
        fail(f"{report.total - report.done - report.failed} runs are missing; rerun to resume", 1)
    if report.failed:
        fail(f"{report.failed} runs failed; see {report.folder}/failures.csv", 1)


def _run_sweep(spec: Any, out: Path, kind: ExecutorKind, jobs: int, scheduler: str | None) -> Any:
    """Run a sweep; a signal, a dead worker or a lost cluster is one line (runs are kept)."""
    from abm.sweep import Interrupted, run_sweep

    try:
        return run_sweep(spec, out, executor=kind, jobs=jobs, scheduler=scheduler, progress=True)
    except Interrupted as stop:
        kept = f"{stop.finished} of {spec.n_runs}" if stop.finished is not None else "finished"
        fail(f"sweep stopped by {stop}: {kept} runs are kept; rerun the same command to resume",
             128 + stop.signum)  # fmt: skip
    except (OSError, RuntimeError) as err:  # a worker died, the cluster went away
        fail(
            f"sweep stopped ({type(err).__name__}: {err}); finished runs are kept: rerun to resume",
            1,
        )


@app.command()
@user_errors
def calibrate(
    calibration_file: Annotated[Path, typer.Argument(help="Calibration YAML file.")],
    fast: Annotated[
        bool, typer.Option("--fast", help="The file's small search (what the tests run).")
    ] = False,
    jobs: JobsOption = None,
    executor: ExecutorOption = "local",
    scheduler: SchedulerOption = None,
    out: Annotated[Path, typer.Option("--out", help="Root of calibration folders.")] = Path(
        "outputs/calibrations"
    ),
    root: RootOption = None,
) -> None:
    """Fit a scenario's parameters to observed moments into OUT/<name>/ (rerun to resume).

    Writes the best parameters, each moment's fit (held-out ones too), the accepted set,
    the range of each named conclusion over it, and per-parameter identifiability.
    """
    import os

    from abm.calibration import calibrate as run_calibration
    from abm.calibration import load_calibration
    from abm.calibration.report import summary_lines
    from abm.outputs import prove_writable
    from abm.sweep import Interrupted

    kind = _executor_kind(executor, scheduler)
    cal = load_calibration(calibration_file, extra_roots=root or (), fast=fast)
    prove_writable(out)
    try:
        report = run_calibration(cal, out, executor=kind, jobs=jobs or os.cpu_count() or 1,
                                 scheduler=scheduler, progress=True, log=say)  # fmt: skip
    except Interrupted as stop:
        fail(f"calibration stopped by {stop}: finished runs are kept; rerun the same command "
             "to resume", 128 + stop.signum)  # fmt: skip
    except (OSError, RuntimeError) as err:  # a worker died, the cluster went away
        fail(f"calibration stopped ({type(err).__name__}: {err}); rerun to resume", 1)
    say(f"wrote {report.folder}")
    for line in summary_lines(report.fit, report.tables):
        say(line)


def _jobs(jobs: int | None) -> int:
    """``-j``, or all cores."""
    import os

    return jobs or os.cpu_count() or 1


def _executor_kind(executor: str, scheduler: str | None) -> ExecutorKind:
    """The ``--executor`` asked for; ``--scheduler`` implies (and needs) dask."""
    from abm.sweep import ExecutorKind

    kinds = [k.value for k in ExecutorKind]
    if executor not in kinds:
        fail(f"--executor: one of {', '.join(kinds)}, got '{executor}'")
    kind = ExecutorKind(executor)
    if scheduler is not None:
        if kind is not ExecutorKind.LOCAL and kind is not ExecutorKind.DASK:
            fail(f"--scheduler: only with --executor dask, got --executor {executor}")
        kind = ExecutorKind.DASK
    return kind


@app.command()
@user_errors
def new(
    name: Annotated[str, typer.Argument(help="Name of the new scenario (writes NAME.yaml here).")],
    from_: Annotated[
        str,
        typer.Option(
            "--from",
            metavar="SCENARIO",
            help="A reference scenario's name (abm list) or a scenario file to start from.",
        ),
    ] = "baseline",
) -> None:
    """Write NAME.yaml in the current folder: a commented starter scenario that runs as is."""
    from abm.scenario.starter import write_starter

    path = write_starter(name, from_)
    say(f"wrote {path}: edit it, then run it with: abm run {path.name}")


@app.command()
@user_errors
def figure(
    folder: Annotated[Path, typer.Argument(help="A sweep folder (outputs/sweeps/<name>).")],
    x: Annotated[
        str | None,
        typer.Option(metavar="FIELD", help="Varied field on the x axis (default: the first)."),
    ] = None,
    hue: Annotated[
        str | None,
        typer.Option(
            metavar="FIELD", help="Varied field, one line per level (default: the second)."
        ),
    ] = None,
    y: Annotated[
        list[str] | None,
        typer.Option(
            "--y", metavar="OUTCOME", help="Outcome, a panel each (repeatable; default: all kept)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="Figure file (default: FOLDER/figure.png)."),
    ] = None,
) -> None:
    """Draw a sweep's outcomes against its varied fields: mean and 95% interval.

    One panel per outcome, the first varied field on the x axis and one line per level
    of the second; other varied fields are averaged over. Writes the plotted numbers
    next to the figure (.csv).
    """
    from abm.sweep.figure import draw
    from abm.sweep.store import resolve_folder

    found = resolve_folder(folder)
    if found != folder:
        say(f"{folder} has no completed sweep; drawing {found}", err=True)
    path = draw(found, x=x, hue=hue, outcomes=y, out=out)
    say(f"wrote {path} and {path.with_suffix('.csv').name}")


@app.command()
def schema() -> None:
    """Print the scenario schema reference (Markdown)."""
    from abm.scenario import schema_markdown

    typer.echo(schema_markdown())


@app.command()
def outputs() -> None:
    """Print the outputs reference: every series and outcome with its unit (Markdown)."""
    from abm.metrics import reference_markdown

    typer.echo(reference_markdown())


@app.command("list")
def list_scenarios(
    folder: Annotated[Path, typer.Argument(help="Folder of scenarios.")] = SCENARIOS,
) -> None:
    """List the scenarios, sweeps, calibrations or replication experiments in a folder."""
    from abm.replications.spec import load_experiment
    from abm.scenario import read_yaml

    for path in sorted(folder.glob("*.yaml")):
        try:
            question = None
            keys = read_yaml(path).keys()
            if {"base", "vary"} <= keys:  # a sweep file; its layer only when needed
                from abm.sweep.spec import describe

                question = describe(path)
            elif {"base", "parameters", "targets"} <= keys:  # a calibration file
                from abm.calibration.spec import describe

                question = describe(path)
            if question is None:
                spec = load_scenario(path)
                question = spec.question.strip().splitlines()[0] if spec.question else ""
        except ScenarioError as err:
            try:
                question = load_experiment(path).title
            except (ScenarioError, ValueError):
                question = f"(invalid: {err.expected})"
        say(f"{path.stem:28s} {question}")


@app.command()
@user_errors
def compare(
    a: Annotated[Path, typer.Argument(help="Reference scenario (A).")],
    b: Annotated[
        Path, typer.Argument(help="Scenario compared with it (B); differences are B - A.")
    ],
    replicates: Annotated[int, typer.Option(help="Paired replicates (seeds), at least 2.")] = 10,
    steps: Annotated[int | None, typer.Option(help="Steps (default: each scenario's).")] = None,
    seed: Annotated[int | None, typer.Option(help="Root seed (default: A's seed).")] = None,
    out: OutOption = Path("outputs"),
    set_: SetOption = None,
    set_a: Annotated[
        list[str] | None,
        typer.Option("--set-a", metavar="FIELD=VALUE", help="Override a field of A only."),
    ] = None,
    set_b: Annotated[
        list[str] | None,
        typer.Option("--set-b", metavar="FIELD=VALUE", help="Override a field of B only."),
    ] = None,
    root: RootOption = None,
    jobs: JobsOption = None,
    executor: ExecutorOption = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """Run A and B on the same seeds; print and write outcome differences with 95% CIs.

    --set applies to both scenarios; --set-a and --set-b to one, so a policy can be
    compared with itself switched off: abm compare X.yaml X.yaml --set-b FIELD=VALUE.
    The seeds run in parallel (-j); the tables do not depend on -j or --executor.
    """
    from abm.compare import compare as run_comparison
    from abm.compare import format_table, write_comparison
    from abm.outputs import check_out_root, prove_writable
    from abm.preflight import preflight
    from abm.runner import Progress

    kind = _executor_kind(executor, scheduler)

    steps_ = [f"steps={steps}"] if steps is not None else []  # checked by the schema
    spec_a = load_scenario(a, [*(set_ or []), *(set_a or []), *steps_], extra_roots=root or ())
    spec_b = load_scenario(b, [*(set_ or []), *(set_b or []), *steps_], extra_roots=root or ())
    if replicates < 2:
        raise ValueError(
            f"--replicates: at least 2 paired seeds (a 95% interval needs two), got {replicates}"
        )
    check_out_root(out)
    preflight(spec_a, a)
    preflight(spec_b, b)
    prove_writable(out)
    with Progress(True, replicates, f"{spec_b.name} vs {spec_a.name}", unit="seed") as advance:
        result = run_comparison(spec_a, spec_b, replicates, steps=steps, root_seed=seed,
                                executor=kind, jobs=_jobs(jobs), scheduler=scheduler,
                                progress=advance)  # fmt: skip
    folder = write_comparison(result, out)
    say(f"wrote {folder}")
    say(f"{spec_b.name} - {spec_a.name}, {replicates} paired seeds, 95% CI (paired t):")
    for line in format_table(result.table).splitlines():
        say(line)


@app.command()
@user_errors
def viz(
    scenario: Annotated[
        Path | None,
        typer.Argument(help="Scenario YAML file (default: scenarios/data_strike.yaml)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8765,
    root: RootOption = None,
) -> None:
    """Step through a scenario in the Mesa browser viewer (SolaraViz); prints its address."""
    import signal
    import subprocess

    from abm.preflight import preflight
    from abm.viz.server import address, viewer_command, viewer_env

    if scenario is not None:  # a bad file is one line and exit 2, before any server starts
        preflight(load_scenario(scenario, extra_roots=root or ()), scenario)
    say(f"abm viz: serving {scenario or 'the default scenario'} at {address(host, port)}")
    typer.echo("abm viz: press Ctrl+C to stop")
    sys.stdout.flush()
    server = subprocess.Popen(viewer_command(host, port), env=viewer_env(scenario))
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())  # never leave it orphaned
    try:
        code = server.wait()
    except KeyboardInterrupt:
        server.terminate()
        code = server.wait()
    if code not in (0, -15):
        raise typer.Exit(code)


@app.command()
@user_errors
def bench(
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    sizes: Annotated[
        str, typer.Option(help="Comma-separated numbers of users.")
    ] = "1000,10000,100000,1000000",
    steps: Annotated[int, typer.Option(min=1, help="Model steps per size.")] = 100,
    naive_max: Annotated[
        int, typer.Option(help="Largest size the naive Mesa reference runs at.")
    ] = 100_000,
    naive_steps: Annotated[int, typer.Option(min=1, help="Naive reference steps per size.")] = 3,
    task: Annotated[
        str, typer.Option(help="The users' data: digits (default) or stream (fresh rows).")
    ] = "digits",
) -> None:
    """Benchmark the vectorised model against the naive per-agent Mesa reference."""
    from abm.bench import BenchFailed, parse_sizes, parse_task, run_bench, table

    sizes_list, task = parse_sizes(sizes), parse_task(task)
    log = None if json_ else (lambda line: typer.echo(line, err=True))
    try:
        report = run_bench(sizes_list, steps=steps, naive_max=naive_max,
                           naive_steps=naive_steps, log=log, task=task)  # fmt: skip
    except BenchFailed as err:  # a size that failed while it ran: one line, no "internal"
        fail(str(err), 1)
    if json_:
        typer.echo(json.dumps(report))
    else:
        typer.echo(table(report))


@app.command()
@user_errors
def replicate(
    fast: Annotated[
        bool, typer.Option("--fast", help="Reduced grids and seeds (what the tests run).")
    ] = False,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only this replication (repeatable).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path(
        "outputs/replications"
    ),
    ablate: Annotated[
        bool, typer.Option("--ablate", help="Switch each mechanism off: every check should fail.")
    ] = False,
) -> None:
    """Reproduce the published results: figures, summary.csv and report.md in --out."""
    from abm.replications import run_replications

    summary = run_replications(out, fast=fast, only=only, log=typer.echo, ablate=ablate)
    typer.echo(f"wrote {out}/summary.csv: {int(summary.passed.sum())} of {len(summary)} passed")


@app.command()
@user_errors
def check(
    scenario: Annotated[list[Path], typer.Argument(help="Scenario YAML file(s) with a check.")],
    seeds: Annotated[
        int | None, typer.Option(help="Paired seeds (default: each file's check.seeds).")
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Steps (default: each scenario's).")] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also write checks.csv and seeds.csv to a new folder here."),
    ] = None,
    set_: SetOption = None,
    root: RootOption = None,
    jobs: JobsOption = None,
    executor: ExecutorOption = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """Run each scenario's check: its key outcome against the lever off, on paired seeds.

    One line per file with the difference (lever on minus off), its 95% t-interval and
    pass/fail; exit 1 if any fails, 2 on a bad file (all files are read before any run).
    A file without a check block is listed and skipped. Progress goes to stderr. The
    seeds run in parallel (-j); the numbers do not depend on -j or --executor.
    """
    from abm.check import run_checks, summary_line, write_checks
    from abm.outputs import check_out_root, prove_writable
    from abm.preflight import preflight
    from abm.runner import Progress

    kind = _executor_kind(executor, scheduler)
    if seeds is not None and seeds < 2:
        raise ValueError(f"--seeds: a number >= 2 (an interval needs two seeds), got {seeds}")
    if out is not None:
        check_out_root(out)
    specs = []
    for path in scenario:
        spec = load_scenario(path, _with_seed_steps(set_, None, steps), extra_roots=root or ())
        preflight(spec, path)
        specs.append((path, spec))
    if out is not None:
        prove_writable(out)  # last, before any seed runs
    checks = [(path, spec) for path, spec in specs if spec.check is not None]
    # One pool for every file's pairs: the workers start once.
    total = sum(seeds or spec.check.seeds for _, spec in checks)
    name = checks[0][1].name if len(checks) == 1 else f"{len(checks)} checks"
    with Progress(bool(checks), total, name, unit="seed") as advance:
        results = run_checks([spec for _, spec in checks], seeds, progress=lambda _: advance(),
                             executor=kind, jobs=_jobs(jobs), scheduler=scheduler)  # fmt: skip
    checked = [(str(path), result) for (path, _), result in zip(checks, results, strict=True)]
    by_file = iter(checked)
    for path, spec in specs:  # in the order given
        say(f"{path}: no check block, skipped" if spec.check is None
            else summary_line(*next(by_file)))  # fmt: skip
    failed = sum(not result.passed for _, result in checked)
    if out is not None and checked:
        say(f"wrote {write_checks(checked, out)}")
    if failed:
        raise typer.Exit(1)


def main() -> None:
    """Entry point for ``python -m abm``."""
    app()
