"""Train / validation / test splits: the release's own where it has them, else seeded ones.

Rules of :func:`make_split`:

* Rows without an age (the Kaggle test set) can be neither trained nor scored: their split
  becomes ``''``.
* No release split among the labelled rows (rsna100, the phantom, any CSV folder): a
  seeded split with ``fractions`` (train, val, test), stratified by sex and 12-month age bins.
* Release splits present: they are kept. A labelled split the release lacks is carved out
  of its labelled ``train`` rows, stratified the same way, at the size it would have had
  in a (train, val, test) = ``fractions`` split of all labelled rows. E.g. the Kaggle copy
  (labelled train only, unlabelled test) gets val and test from train; a release with
  train and test only gets val from train.

Splits are written as CSV with the columns ``id,split`` so that a run can be reproduced.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")
AGE_BIN_MONTHS = 12.0


def make_split(index: pd.DataFrame, seed: int = 0,
               fractions: Sequence[float] = (0.8, 0.1, 0.1),
               dest_csv=None) -> pd.DataFrame:
    """A copy of ``index`` with the ``split`` column filled (see the module rules).

    Args:
        index: DataFrame with ``id``, ``boneage`` (months), ``male``, and optionally
            ``split`` (release splits).
        seed: seed of the random assignment within each (sex, age bin) stratum.
        fractions: (train, val, test) shares, non-negative, summing to 1.
        dest_csv: if given, write ``id,split`` there (folders created).
    """
    fr = np.asarray(fractions, float)
    if fr.shape != (3,) or (fr < 0).any() or abs(fr.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions must be three non-negative shares summing to 1, got "
                         f"{tuple(fractions)}")
    out = index.copy()
    split = out["split"].astype(str).to_numpy(object) if "split" in out else \
        np.full(len(out), "", object)
    labelled = np.isfinite(out["boneage"].to_numpy(float))
    split[~labelled] = ""
    present = set(split[labelled]) - {""}
    if not present:
        split[labelled] = _stratified(out[labelled], fr, seed)
    else:
        _carve_missing(out, split, labelled, present, fr, seed)
    out["split"] = split.astype(str)
    if dest_csv is not None:
        write_split_csv(out, dest_csv)
    return out


def _carve_missing(index: pd.DataFrame, split: np.ndarray, labelled: np.ndarray,
                   present: set, fr: np.ndarray, seed: int) -> None:
    """Fill the labelled splits the release lacks from its train rows (in place)."""
    if "train" not in present:
        raise ValueError(f"the release splits {sorted(present)} have no labelled 'train' rows "
                         "to carve missing splits from")
    missing = [k for k, s in enumerate(SPLITS[1:], 1) if s not in present and fr[k] > 0]
    if not missing:
        return
    train = np.flatnonzero(labelled & (split == "train"))
    n_total = labelled.sum()
    shares = np.zeros(3)
    for k in missing:
        shares[k] = fr[k] * n_total / len(train)
    shares[0] = 1.0 - shares.sum()
    if shares[0] < 0:
        raise ValueError(f"the release's train rows ({len(train)}) are too few to carve "
                         f"{[SPLITS[k] for k in missing]} at fractions {tuple(fr)}")
    split[train] = _stratified(index.iloc[train], shares, seed)


def _stratified(index: pd.DataFrame, fr: np.ndarray, seed: int) -> np.ndarray:
    """Split names for the rows of ``index``, stratified by sex and 12-month age bins.

    Rows are ordered by stratum (shuffled within it) and dealt out one by one to the split
    furthest behind its share, so every prefix -- hence every stratum -- is split in the
    given proportions to within one row, and the totals are exact up to rounding.
    """
    rng = np.random.default_rng(seed)
    bins = np.floor(index["boneage"].to_numpy(float) / AGE_BIN_MONTHS).astype(int)
    stratum = bins * 2 + index["male"].to_numpy(bool)
    order = np.lexsort((rng.random(len(index)), stratum))
    counts = np.zeros(3)
    names = np.empty(len(index), object)
    for k, row in enumerate(order):
        s = int(np.argmax((k + 1) * fr - counts))
        counts[s] += 1
        names[row] = SPLITS[s]
    return names


def write_split_csv(index: pd.DataFrame, path) -> Path:
    """Write ``id,split`` of ``index`` to ``path`` (folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    index[["id", "split"]].to_csv(path, index=False)
    return path


def read_split_csv(path, index: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Read an ``id,split`` CSV; with ``index``, return a copy of it with those splits.

    Raises ``ValueError`` naming the file when a split name is unknown or, with ``index``,
    when the ids of the file and of the index differ.
    """
    path = Path(path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if list(table.columns[:2]) != ["id", "split"]:
        raise ValueError(f"{path} must have the columns id,split; has {list(table.columns)}")
    unknown = set(table["split"]) - set(SPLITS) - {""}
    if unknown:
        raise ValueError(f"{path}: unknown split names {sorted(unknown)}")
    if index is None:
        return table
    mapping = dict(zip(table["id"], table["split"]))
    ids = set(index["id"])
    if ids != set(mapping):
        extra, lost = sorted(set(mapping) - ids)[:5], sorted(ids - set(mapping))[:5]
        raise ValueError(f"{path} does not match the index: ids only in the file {extra}, "
                         f"only in the index {lost}")
    out = index.copy()
    out["split"] = out["id"].map(mapping).astype(str)
    return out
