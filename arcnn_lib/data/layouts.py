"""Reading the public layouts of the RSNA Pediatric Bone Age data into one validated index.

:func:`read_index` detects the layout of a folder and returns a ``pandas.DataFrame`` with the
columns ``id`` (str), ``path`` (str, absolute), ``boneage`` (float, months; NaN where the
release gives no label), ``male`` (bool) and ``split`` (``'train'``/``'val'``/``'test'`` where
the release defines it, else ``''``). ``index.attrs['layout']`` names the layout:

``kaggle``     the Kaggle copy (kmader/rsna-bone-age): ``boneage-training-dataset.csv``
               (id, boneage, male True/False) with ``boneage-training-dataset/`` (flat or
               nested once more), and ``boneage-test-dataset.csv`` (Case ID, Sex M/F, no
               ages) with ``boneage-test-dataset/``. Splits: train, test (unlabelled).
``rsna2017``   the official RSNA 2017 release, unzipped: ``train.csv`` (or
               ``boneage-training-dataset.csv``) with ``boneage-training-dataset/``;
               ``Bone Age Validation Set/Validation Dataset.csv`` (Image ID, male
               TRUE/FALSE, Bone Age (months)) with ``boneage-validation-dataset-1/`` and
               ``-2/``; ``Bone Age Test Set/Bone age ground truth.xlsx`` (Case ID, Sex,
               Ground truth bone age (months)) with ``Test Set Images/``. Splits: train,
               val, test, all labelled.
``phantom``    a synthetic set written by :mod:`arcnn_lib.data.phantom` (a Kaggle-style CSV
               plus ``phantom-regions.csv``). No splits.
``csv-folder`` any folder with one Kaggle-style CSV (id, boneage, male) and PNGs, e.g.
               ``rsna100``. No splits.

Every problem is an error naming the file and row: a missing column, a non-numeric or
out-of-range age (outside [0, 240] months), an unreadable sex, a duplicate id, a missing
image, an empty data set.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

AGE_RANGE = (0.0, 240.0)
INDEX_COLUMNS = ["id", "path", "boneage", "male", "split"]
SPLIT_ORDER = {"train": 0, "val": 1, "test": 2, "": 3}

KAGGLE_TRAIN_CSV = "boneage-training-dataset.csv"
KAGGLE_TEST_CSV = "boneage-test-dataset.csv"
RSNA_VAL_DIR = "Bone Age Validation Set"
RSNA_TEST_DIR = "Bone Age Test Set"
REGIONS_CSV = "phantom-regions.csv"

# canonical field -> accepted header names (compared lower-cased and stripped)
_ID_NAMES = ("id", "image id", "case id")
_AGE_NAMES = ("boneage", "bone age (months)", "ground truth bone age (months)", "bone age")
_MALE_NAMES = ("male",)
_SEX_NAMES = ("sex", "gender")
_TRUE = {"true", "1", "t", "yes", "1.0"}
_FALSE = {"false", "0", "f", "no", "0.0"}


class DataLayoutError(ValueError):
    """A data folder or table that cannot be read; the message names the file and row."""


@dataclass(frozen=True)
class _Part:
    """One table of a release and where its images live."""

    table: Path
    image_dirs: Tuple[Path, ...]
    split: str
    needs_age: bool = True


def read_index(root, skip_missing: bool = False) -> pd.DataFrame:
    """Detect the layout of ``root`` and return its validated index.

    Args:
        root: a data folder in one of the layouts above.
        skip_missing: drop rows whose image file is missing (one warning lists them)
            instead of raising.
    Returns:
        DataFrame with columns ``id, path, boneage, male, split``, sorted by split
        (train, val, test, '') then id (numerically when ids are digits);
        ``attrs['layout']`` and ``attrs['root']`` are set.
    Raises:
        DataLayoutError: no known layout, or a bad table / missing image (see module doc).
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DataLayoutError(f"data folder not found: {root}")
    layout, parts = _detect(root)
    frames = [_read_part(p, skip_missing) for p in parts]
    index = pd.concat(frames, ignore_index=True)
    _check_unique(index)
    if index.empty:
        raise DataLayoutError(f"data set in {root} is empty: {[str(p.table) for p in parts]} "
                              "have no rows with images")
    index = _sort(index)[INDEX_COLUMNS]
    index.attrs.update(layout=layout, root=str(root))
    return index


# ---------------------------------------------------------------------------- detection
def _detect(root: Path) -> Tuple[str, List[_Part]]:
    if (root / "train.csv").is_file() or (root / RSNA_VAL_DIR).is_dir() \
            or (root / RSNA_TEST_DIR).is_dir():
        return "rsna2017", _rsna2017_parts(root)
    if (root / KAGGLE_TRAIN_CSV).is_file():
        has_test = (root / KAGGLE_TEST_CSV).is_file()
        train = _Part(root / KAGGLE_TRAIN_CSV, (root / "boneage-training-dataset",),
                      "train" if has_test else "")
        if has_test:
            test = _Part(root / KAGGLE_TEST_CSV, (root / "boneage-test-dataset",), "test",
                         needs_age=False)
            return "kaggle", [train, test]
        return ("phantom" if (root / REGIONS_CSV).is_file() else "csv-folder"), [train]
    csvs = [p for p in sorted(root.glob("*.csv")) if _looks_like_kaggle_csv(p)]
    if len(csvs) == 1:
        folder = root / csvs[0].stem
        return "csv-folder", [_Part(csvs[0], (folder if folder.is_dir() else root,), "")]
    found = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())[:30]
    raise DataLayoutError(
        f"no known bone-age layout in {root}. Found: {found or 'nothing'}. Expected one of: "
        f"Kaggle ({KAGGLE_TRAIN_CSV} + boneage-training-dataset/, optionally "
        f"{KAGGLE_TEST_CSV}); the official RSNA 2017 release (train.csv, '{RSNA_VAL_DIR}/', "
        f"'{RSNA_TEST_DIR}/'); or exactly one CSV with columns id, boneage, male"
        + (f" (found {len(csvs)} such CSVs)" if csvs else ""))


def _rsna2017_parts(root: Path) -> List[_Part]:
    parts = []
    train_csv = next((root / n for n in ("train.csv", KAGGLE_TRAIN_CSV)
                      if (root / n).is_file()), None)
    if train_csv is not None:
        parts.append(_Part(train_csv, (root / "boneage-training-dataset",), "train"))
    val_csv = _first_file(root, [Path(RSNA_VAL_DIR, "Validation Dataset.csv"),
                                 Path("Validation Dataset.csv")])
    if val_csv is not None:
        dirs = tuple(b / f"boneage-validation-dataset-{k}" for b in (root / RSNA_VAL_DIR, root)
                     for k in (1, 2))
        parts.append(_Part(val_csv, dirs, "val"))
    test_xlsx = _first_file(root, [Path(RSNA_TEST_DIR, "Bone age ground truth.xlsx"),
                                   Path("Bone age ground truth.xlsx")])
    if test_xlsx is not None:
        dirs = (root / RSNA_TEST_DIR / "Test Set Images", root / "Test Set Images")
        parts.append(_Part(test_xlsx, dirs, "test"))
    if not parts:
        raise DataLayoutError(
            f"{root} looks like the official RSNA 2017 release but holds none of its tables: "
            f"expected train.csv, '{RSNA_VAL_DIR}/Validation Dataset.csv' or "
            f"'{RSNA_TEST_DIR}/Bone age ground truth.xlsx'")
    return parts


def _first_file(root: Path, candidates: Sequence[Path]) -> Optional[Path]:
    return next((root / c for c in candidates if (root / c).is_file()), None)


def _looks_like_kaggle_csv(path: Path) -> bool:
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return False
    names = {str(c).strip().lower() for c in header}
    return bool(names & set(_ID_NAMES)) and bool(names & set(_AGE_NAMES)) \
        and bool(names & set(_MALE_NAMES + _SEX_NAMES))


# ---------------------------------------------------------------------------- tables
def _read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            return pd.read_excel(path, dtype=str).fillna("")
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises many types for unreadable files
        raise DataLayoutError(f"cannot read table {path}: {exc}") from exc


def _column(table: pd.DataFrame, path: Path, names: Sequence[str], what: str,
            required: bool = True) -> Optional[pd.Series]:
    lookup = {str(c).strip().lower(): c for c in table.columns}
    for n in names:
        if n in lookup:
            return table[lookup[n]].astype(str).str.strip()
    if required:
        raise DataLayoutError(f"{path} lacks the {what} column (accepted names: "
                              f"{list(names)}); its columns are {list(map(str, table.columns))}")
    return None


def _read_part(part: _Part, skip_missing: bool) -> pd.DataFrame:
    table = _read_table(part.table)
    ids = _column(table, part.table, _ID_NAMES, "id").map(_normalise_id)
    ages = _parse_ages(_column(table, part.table, _AGE_NAMES, "bone age (months)",
                               required=part.needs_age), part.table, len(table))
    male_raw = _column(table, part.table, _MALE_NAMES, "male", required=False)
    if male_raw is not None:
        male = _parse_bool(male_raw, part.table, _TRUE, _FALSE, "male")
    else:
        sex = _column(table, part.table, _SEX_NAMES, "male (True/False) or sex (M/F)")
        male = _parse_bool(sex, part.table, {"m", "male"}, {"f", "female"}, "sex")
    for i, value in enumerate(ids):
        if not value:
            raise DataLayoutError(f"{part.table}, row {i + 2}: empty id")
    frame = pd.DataFrame({"id": ids.to_numpy(), "boneage": ages, "male": male,
                          "split": part.split, "table": str(part.table)})
    frame["path"] = _locate_images(frame, part, skip_missing)
    return frame[frame["path"] != ""].reset_index(drop=True)


def _normalise_id(value: str) -> str:
    """'1234.0' (a number that went through a spreadsheet) -> '1234'."""
    if value.endswith(".0") and value[:-2].isdigit():
        return value[:-2]
    return value


def _parse_ages(raw: Optional[pd.Series], path: Path, n: int) -> np.ndarray:
    if raw is None:
        return np.full(n, np.nan)
    ages = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    for i in np.flatnonzero(~np.isfinite(ages)):
        problem = "missing" if raw.iloc[i] == "" else f"not a number: {raw.iloc[i]!r}"
        raise DataLayoutError(f"{path}, row {i + 2}: bone age {problem}")
    lo, hi = AGE_RANGE
    bad = np.flatnonzero((ages < lo) | (ages > hi))
    if bad.size:
        i = bad[0]
        raise DataLayoutError(f"{path}, row {i + 2}: bone age {ages[i]:g} months is outside "
                              f"[{lo:g}, {hi:g}] ({bad.size} such rows)")
    return ages


def _parse_bool(raw: pd.Series, path: Path, true: set, false: set, what: str) -> np.ndarray:
    low = raw.str.lower()
    out = low.isin(true).to_numpy()
    bad = np.flatnonzero(~(out | low.isin(false).to_numpy()))
    if bad.size:
        i = bad[0]
        raise DataLayoutError(f"{path}, row {i + 2}: cannot read {what} {raw.iloc[i]!r} "
                              f"(expected one of {sorted(true | false)})")
    return out


# ---------------------------------------------------------------------------- images
def _png_files(dirs: Sequence[Path]) -> Dict[str, Path]:
    """id (file stem) -> path of every PNG under ``dirs`` (recursively)."""
    found: Dict[str, Path] = {}
    for d in dirs:
        if d.is_dir():
            for p in sorted(d.rglob("*")):
                if p.suffix.lower() == ".png":
                    found.setdefault(p.stem, p)
    return found


def _locate_images(frame: pd.DataFrame, part: _Part, skip_missing: bool) -> List[str]:
    files = _png_files(part.image_dirs)
    paths = [str(files[i]) if i in files else "" for i in frame["id"]]
    missing = [i for i, p in zip(frame["id"], paths) if not p]
    if missing:
        msg = (f"{len(missing)} image(s) listed in {part.table} are missing (looked for "
               f"<id>.png under {[str(d) for d in part.image_dirs]}): ids {missing[:10]}"
               + (" ..." if len(missing) > 10 else ""))
        if not skip_missing:
            raise DataLayoutError(msg)
        warnings.warn(msg + "; these rows are skipped", stacklevel=3)
    return paths


def _check_unique(index: pd.DataFrame) -> None:
    dup = index[index["id"].duplicated(keep=False)]
    if not dup.empty:
        first = dup["id"].iloc[0]
        where = sorted(set(dup.loc[dup["id"] == first, "table"]))
        raise DataLayoutError(f"duplicate id {first!r} in {where} "
                              f"({dup['id'].nunique()} duplicated ids in all)")


def _sort(index: pd.DataFrame) -> pd.DataFrame:
    key = index["split"].map(SPLIT_ORDER).astype(str) + "|" + index["id"].map(_id_key)
    return index.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def _id_key(value: str) -> str:
    return value.zfill(24) if value.isdigit() else "~" + value
