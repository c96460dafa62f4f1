"""The learning curve of the logistic learner on task stream (docs/data.md).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/stream_curve.py \
        [--replicates 3] [--figure docs/data/stream_curve.png]

Prints mean, sd and count of held-out accuracy per training size, and the Bayes ceiling.
"""

from __future__ import annotations

import argparse

from abm.learning.curves import stream_curve


def main() -> None:
    """Print the curve (and save the figure when asked)."""
    ap = argparse.ArgumentParser(
        description="Learning curve of the logistic learner on task stream."
    )
    ap.add_argument("--figure", default=None, help="save a log-x plot of the curve here")
    ap.add_argument("--replicates", type=int, default=3)
    args = ap.parse_args()
    df = stream_curve(replicates=args.replicates)
    table = df.groupby("n_samples")["quality"].agg(["mean", "std", "count"])
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    print(f"Bayes accuracy (ceiling): {df['bayes'].iloc[0]:.4f}")
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.errorbar(table.index, table["mean"], yerr=table["std"], marker="o", capsize=3)
        ax.axhline(df["bayes"].iloc[0], color="grey", ls="--", lw=1, label="Bayes ceiling")
        ax.legend(loc="lower right")
        ax.set_xscale("log")
        ax.set_xlabel("training samples (fresh stream rows)")
        ax.set_ylabel("held-out accuracy")
        ax.set_title("task: stream (defaults), logistic, full refit")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.figure, dpi=120)
        print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
