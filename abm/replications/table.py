"""Print the Markdown table of a replications ``summary.csv`` (for docs/replications.md).

Usage: ``python -m abm.replications.table [SUMMARY_CSV] [FIGURE_FOLDER]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from abm.replications.report import markdown_table


def main(argv: list[str] | None = None) -> None:
    """Print the table; figure links point into ``FIGURE_FOLDER`` when given."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path("outputs/replications/summary.csv")
    figures = args[1] if len(args) > 1 else None
    if not path.is_file():
        sys.exit(f"abm.replications.table: {path}: an existing summary.csv (not found)")
    sys.stdout.write(markdown_table(pd.read_csv(path), figures=figures))


if __name__ == "__main__":
    main()
