"""The replication registry: one entry per published finding the simulator reproduces.

Modelling assumption: a replication is its file in ``scenarios/replications/``, one
analysis ``analysis(path, fast, ablate) -> Result`` in the module of its family, the
mechanism it tests and what ``--ablate`` does to switch that mechanism off. Adding a
replication is one entry here plus its file and its analysis.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from abm.replications import (
    curves,
    leverage,
    poisoning,
    protest,
    recommenders,
    shapley,
    signals,
    substitutes,
    unlearning,
)
from abm.replications.common import Result

__all__ = ["REPLICATIONS", "Analysis", "Replication"]

Analysis = Callable[[Path, bool, bool], Result]
"""``analysis(path, fast, ablate)``: run one replication file and compare it with the paper."""


@dataclass(frozen=True)
class Replication:
    """One replication: its file, its analysis and the mechanism it tests."""

    name: str
    file: str
    analysis: Analysis
    mechanism: str
    ablation: str

    def run(self, folder: Path, fast: bool, ablate: bool) -> Result:
        """Run the analysis on the file in ``folder``; the result names the mechanism.

        Args:
            folder: Where the replication files live.
            fast: Reduced grids and seeds.
            ablate: Switch the mechanism off (the result then names what was switched off).

        Returns:
            The analysis's result with ``mechanism`` and ``ablated`` filled.
        """
        result = self.analysis(folder / self.file, fast, ablate)
        mechanism = self.ablation if ablate else self.mechanism
        return dataclasses.replace(result, mechanism=mechanism, ablated=ablate)


_ENTRIES = (
    Replication("strike_curve", "strike_curve.yaml", curves.strike_curve_breast_cancer,
                "strikers' rows are withheld from the refit", "no row is withheld"),
    Replication("cdc_curve", "cdc_curve.yaml", curves.cdc_curve_breast_cancer,
                "contributed rows are redirected to the competitor",
                "nothing is redirected: the competitor has no data (naive model)"),
    Replication("strike_vs_cdc", "strike_vs_cdc.yaml", curves.strike_vs_cdc,
                "strikers withhold rows; contributors redirect them",
                "no row is withheld or redirected"),
    Replication("normalisation", "normalisation.yaml", curves.raw_vs_normalised,
                "striking raters' ratings are withheld from the recommender",
                "no rating is withheld"),
    Replication("larger_is_robust", "larger_is_robust.yaml", curves.larger_is_robust,
                "a 30% strike on training sets of the same task at three sizes",
                "no row is withheld"),
    Replication("group_strike", "group_strike.yaml", leverage.group_strike,
                "one community's data is withheld (strike)", "the collective does not strike"),
    Replication("strike_plus_cdc", "strike_plus_cdc.yaml", leverage.strike_plus_cdc,
                "20% of users withhold from the incumbent, contribute to the challenger, or "
                "both", "the collective does not act"),
    Replication("signal_planting", "signal_planting.yaml", signals.signal_planting,
                "members plant a trigger with the target label", "no trigger is planted"),
    Replication("conflicting_collectives", "conflicting_collectives.yaml",
                signals.conflicting_collectives,
                "two collectives plant one trigger with different targets",
                "one collective instead of two"),
    Replication("size_vs_homogeneity", "size_vs_homogeneity.yaml",
                recommenders.size_vs_homogeneity,
                "recommender collectives against a rival: twice the size vs members alike in "
                "taste", "the collective's size does not change"),
    Replication("coordination_noise", "coordination_noise.yaml", signals.coordination_noise,
                "members misapply the trigger with probability `noise`",
                "every member applies it exactly (noise 0 throughout)"),
    Replication("backdoor", "backdoor.yaml", poisoning.backdoor,
                "a tiny share of rows carries a trigger and the target label",
                "no trigger is planted"),
    Replication("knn_shapley", "knn_shapley.yaml", shapley.knn_shapley_checks,
                "KNN-Shapley values of each training point",
                "random values in place of the Shapley values"),
    Replication("tmc_vs_knn", "tmc_vs_knn.yaml", shapley.tmc_vs_knn,
                "TMC-Shapley marginal contributions over permutations",
                "TMC values shuffled across points"),
    Replication("sisa", "sisa.yaml", unlearning.sisa_unlearning,
                "rows sharded by contributor; a deletion retrains its shards only",
                "no shards (one model on all rows)"),
    Replication("ai_substitute", "ai_substitute.yaml", substitutes.ai_substitute,
                "adopters (reach by month) ask the substitute instead of contributing",
                "no substitute is released"),
    Replication("protest_users", "protest_users.yaml", protest.protest_users,
                "boycotters weigh the ties they lose against the best alternative",
                "the cost of leaving is ignored (exit_cost_weight 0)"),
    Replication("two_collectives", "two_collectives.yaml", signals.two_collectives,
                "two collectives plant one trigger with different targets, over sizes and "
                "homogeneity", "the rival never acts"),
    Replication("recsys_promotion", "recsys_promotion.yaml", recommenders.recsys_promotion,
                "under 1% of raters rate an item at the top beside popular items",
                "members act normally (the campaign never launches)"),
    Replication("protest_repertoire", "protest_repertoire.yaml", protest.protest_repertoire,
                "protesters weigh the ties they keep on each platform against the "
                "alternative and the outside option", "ties are not weighed (network_weight 0)"),
)  # fmt: skip

REPLICATIONS: dict[str, Replication] = {r.name: r for r in _ENTRIES}
"""Replication name -> its entry, in the order the summary lists them."""
