"""Reading the reference results of real runs (``results/reference/`` and its siblings).

:mod:`arcnn_lib.results.reproduce` writes them; the book's tables and figures read them here.
``results/reference/`` always holds the newest full set made with the current library;
``results/reference_gpu_first/`` keeps the first GPU set, made before two fixes (the
navigator's detached input and the separate BatchNorm statistics of parts), because chapter 7
reads its failure from it, together with the GPU benchmark of one training step. A folder
holds, per run (e.g. ``arcnn_male_k3``, ``baseline_female``):

* ``<run>.json``: the evaluation metrics (``mae``, ``mae_x``, ``mae_concat``, ``mae_parts``,
  ``n``, per sex) with provenance (config, data, split file, commit, hardware, date, wall
  time) and the training summary (epochs, seconds, best validation MAE);
* ``<run>_predictions.csv``: one row per test image (``id``, ``male``, ``boneage``, ``pred``,
  ``pred_x``, ``pred_concat``, ``pred_part1..M``, boxes and scores);
* ``<run>_history.csv``: the per-epoch ``metrics.csv`` of training;

and, for the whole set, ``manifest.json`` (the runs, with their model kind, sex and K),
``rsna100_split.csv`` (``id,split``), ``fig3_parts.png`` and, where measured,
``benchmark_train_step.json``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import pandas as pd

from ..data.paths import REPO_ROOT

#: Where the reference results live in a checkout: the newest full set ...
REFERENCE_DIR = Path("results") / "reference"
#: ... and the first GPU set (before the fixes), with the GPU benchmark.
FIRST_GPU_DIR = Path("results") / "reference_gpu_first"
#: Seeded ablations on the validation split (:mod:`arcnn_lib.results.ablation`).
ABLATION_DIR = Path("results") / "ablation"
#: The paper's Table 1: test MAE (months) of the boys' model for K = 1..4 parts
#: (Liu et al. 2019; 448 px, ImageNet-pretrained ResNet-50, the RSNA 200-image test set).
PAPER_TABLE1 = {1: 5.87, 2: 5.45, 3: 4.32, 4: 7.43}
#: The paper's Table 2: test MAE (months) of each unit of the K = 3 models, per sex.
PAPER_TABLE2 = {
    "male": {"X": 5.76, "C": 4.99, "R1": 5.55, "R2": 5.59, "R3": 6.03, "A_asb": 4.32},
    "female": {"X": 6.20, "C": 5.46, "R1": 6.58, "R2": 6.31, "R3": 7.04, "A_asb": 4.44},
}
#: The paper's Table 3: (method, stage, trained on RSNA, MAE in months); the other methods'
#: values are as the paper quotes them from their own papers.
PAPER_TABLE3 = (
    ("Human (as reported by Larson et al.)", "-", True, 7.32),
    ("Spampinato et al.", "single-stage", False, 9.12),
    ("Larson et al.", "single-stage", True, 6.24),
    ("Iglovikov et al.", "multi-stage", True, 4.97),
    ("Ren et al.", "multi-stage", True, 5.20),
    ("AR-CNN", "single-stage", True, 4.38),
)
#: The paper's headline MAE in months (its Tables 2 and 3): per sex and overall.
PAPER_MAE = {"male": PAPER_TABLE2["male"]["A_asb"], "female": PAPER_TABLE2["female"]["A_asb"],
             "all": PAPER_TABLE3[-1][3]}



def paper_tables() -> dict:
    """The paper's Tables 1-3 as DataFrames (MAE in months), for quoting them in full.

    ``"table1"``: one row per K, column ``MAE (boys)``; ``"table2"``: one row per sex, one
    column per unit (X, C, R1-R3, A_asb); ``"table3"``: one row per method, with its stage,
    whether it was trained on RSNA, and its MAE. Read from :data:`PAPER_TABLE1`-:data:`3`.
    """
    table1 = pd.DataFrame({"MAE (boys)": PAPER_TABLE1}).rename_axis("K")
    table2 = pd.DataFrame(PAPER_TABLE2).T.rename_axis("sex")
    table3 = pd.DataFrame(PAPER_TABLE3, columns=["method", "stage", "trained on RSNA",
                                                 "MAE"]).set_index("method")
    table3["trained on RSNA"] = table3["trained on RSNA"].map({True: "yes", False: "no"})
    return {"table1": table1, "table2": table2, "table3": table3}

@dataclass
class ReferenceResults:
    """The reference runs found in ``root``."""

    root: Path
    manifest: dict

    @property
    def runs(self) -> pd.DataFrame:
        """One row per run: ``name``, ``model``, ``sex``, ``num_concat`` and its test ``mae``."""
        rows = []
        for run in self.manifest.get("runs", []):
            metrics = self.metrics(run["name"])
            rows.append({**run, "mae": metrics.get("mae") if metrics else None})
        return pd.DataFrame(rows)

    @property
    def names(self) -> List[str]:
        return [r["name"] for r in self.manifest.get("runs", [])]

    def metrics(self, name: str) -> Optional[dict]:
        """The ``<name>.json`` of a run, or None when it is absent."""
        path = self.root / f"{name}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def predictions(self, name: str) -> Optional[pd.DataFrame]:
        path = self.root / f"{name}_predictions.csv"
        return pd.read_csv(path, dtype={"id": str}) if path.is_file() else None

    def history(self, name: str) -> Optional[pd.DataFrame]:
        path = self.root / f"{name}_history.csv"
        return pd.read_csv(path) if path.is_file() else None

    @property
    def benchmark(self) -> Optional[dict]:
        path = self.root / "benchmark_train_step.json"
        return json.loads(path.read_text()) if path.is_file() else None

    @property
    def label(self) -> str:
        """Data / configuration / hardware of the reference runs, for captions."""
        from .tables import reference_label
        return reference_label(self.manifest)


def _find(root, folder: Path, filename: str) -> Optional[Path]:
    """``root/filename``, or else ``folder/filename`` under the checkout the library was
    imported from, the working folder or its parent (a notebook run from ``book/``)."""
    candidates = [Path(root)] if root is not None else [
        base / folder for base in (REPO_ROOT, Path.cwd(), Path.cwd().parent)]
    for candidate in candidates:
        if (candidate / filename).is_file():
            return candidate / filename
    return None


def load_reference(root=None, folder=REFERENCE_DIR) -> Optional[ReferenceResults]:
    """The reference results in ``root``, or None when there are none.

    Without ``root``: ``folder`` (default ``results/reference``; :data:`FIRST_GPU_DIR` for
    the first GPU set) of the checkout the library was imported from, else of the working
    folder or its parent (a notebook run from ``book/`` of a clone).
    """
    manifest = _find(root, folder, "manifest.json")
    if manifest is None:
        return None
    return ReferenceResults(root=manifest.parent, manifest=json.loads(manifest.read_text()))


def load_ablation(root=None) -> Optional[dict]:
    """``ablation.json`` of :mod:`arcnn_lib.results.ablation` (in ``root``, else in
    ``results/ablation`` found as for :func:`load_reference`), or None."""
    path = _find(root, ABLATION_DIR, "ablation.json")
    return json.loads(path.read_text()) if path is not None else None
