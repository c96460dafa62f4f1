"""The command line reads like its ecosystem's: plain help, ``-h``, ``--version``."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

import abm
from abm.cli import app

COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_is_plain_text_with_click_style_metavars(command: str) -> None:
    args = [command, "-h"] if command else ["-h"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith(f"Usage: abm {command}".rstrip() + " ")
    assert "``" not in text  # no reStructuredText markup from docstrings
    assert not re.search(r"<(bool|int|float|str|path|list)[^>]*>", text), text
    assert not re.search(r"[│╭╰]", text)  # no boxes: the terminal's own wrapping
    assert "-h, --help" in text


def test_run_help_names_values_by_what_they_are() -> None:
    text = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "100"}).stdout
    assert "Usage: abm run [OPTIONS] SCENARIO" in text
    for shown in ("--seed INTEGER", "--out PATH", "--set FIELD=VALUE", "--report / --no-report"):
        assert shown in text, shown


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"abm {abm.__version__}\n"
