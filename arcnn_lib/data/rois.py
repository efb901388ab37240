"""Expert ossification regions on real radiographs: reading and mapping into input pixels.

The regions file (``rsna100-rois.csv``, from the annotations of Koitka et al., PLOS ONE 2018,
doi:10.1371/journal.pone.0207496, MIT licence) has one box per row::

    id, region, x1, y1, x2, y2, orig_width, orig_height, x1_orig, y1_orig, x2_orig, y2_orig

``region`` is one of :data:`REGION_TYPES`: the distal / proximal interphalangeal and the
metacarpophalangeal joints (``DIP``, ``PIP``, ``MCP``, up to five each), the distal
``Radius``, the ``Ulna`` and the carpal bones (``Wrist``). ``*_orig`` is the box in pixels of
the full-resolution original (``orig_width`` x ``orig_height``), as annotated; ``x1 .. y2`` is
the same box in a 100 x 100 copy squeezed without keeping the aspect ratio.

The **original frame is the reference**: a box lands in the pixels of the image stored in a
data folder, whatever its resolution, by scaling each axis by stored / original size, then
through the cache's resize and pad (:func:`arcnn_lib.data.images.map_boxes`, the same rule as
:func:`arcnn_lib.data.images.resize_pad`). So the same file serves rsna100 (100 x 100), the
full-resolution release, or any other copy of the images.

:func:`read_rois` validates the file (every error names the file and the row);
:func:`boxes_to_input` is the mapping; :func:`rois_in_input_pixels` applies it to every box
of the images of a data folder, failing on an id the folder does not hold.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Mapping, Tuple

import numpy as np
import pandas as pd

#: The region types of the expert annotations, distal to proximal.
REGION_TYPES = ("DIP", "PIP", "MCP", "Wrist", "Radius", "Ulna")
BOX = ["x1", "y1", "x2", "y2"]
BOX_ORIG = ["x1_orig", "y1_orig", "x2_orig", "y2_orig"]
ROI_COLUMNS = ["id", "region", *BOX, "orig_width", "orig_height", *BOX_ORIG]
#: Side of the squeezed copy that ``x1 .. y2`` refer to.
SQUEEZED_SIDE = 100.0
#: Rounding slack (pixels) of the squeezed coordinates, which the file rounds to 2 decimals.
_TOL = 0.02


class RoiFileError(ValueError):
    """A regions file that cannot be used; the message names the file and row."""


def read_rois(path) -> pd.DataFrame:
    """Read and validate a regions CSV.

    Returns:
        DataFrame with :data:`ROI_COLUMNS`: ``id`` (str), ``region`` (str), the rest float.
    Raises:
        RoiFileError: a missing file or column, an empty file, a non-number, an unknown
            region name, a box with x2 <= x1 or y2 <= y1, or a box outside its image (in
            either frame). Rows are counted as in a spreadsheet (the header is row 1).
    """
    path = Path(path)
    if not path.is_file():
        raise RoiFileError(f"regions file not found: {path}")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises many types for unreadable files
        raise RoiFileError(f"cannot read regions file {path}: {exc}") from exc
    missing = [c for c in ROI_COLUMNS if c not in raw.columns]
    if missing:
        raise RoiFileError(f"{path} lacks the columns {missing}; its columns are "
                           f"{list(raw.columns)}")
    if raw.empty:
        raise RoiFileError(f"{path} has no rows")
    out = pd.DataFrame({"id": raw["id"].str.strip().map(_normalise_id),
                        "region": raw["region"].str.strip()})
    for c in ROI_COLUMNS[2:]:
        values = pd.to_numeric(raw[c].str.strip(), errors="coerce")
        bad = np.flatnonzero(~np.isfinite(values.to_numpy(float)))
        if bad.size:
            raise RoiFileError(f"{path}, row {bad[0] + 2}: {c} is not a number: "
                               f"{raw[c].iloc[bad[0]]!r}")
        out[c] = values.astype(float)
    _check_rows(out, path)
    return out


def _normalise_id(value: str) -> str:
    return value[:-2] if value.endswith(".0") and value[:-2].isdigit() else value


def _check_rows(r: pd.DataFrame, path: Path) -> None:
    def fail(mask, what):
        bad = np.flatnonzero(np.asarray(mask))
        if bad.size:
            i = bad[0]
            raise RoiFileError(f"{path}, row {i + 2} (id {r['id'].iloc[i]}, "
                               f"{r['region'].iloc[i]}): {what(i)}"
                               + (f" ({bad.size} such rows)" if bad.size > 1 else ""))

    fail(r["id"] == "", lambda i: "empty id")
    fail(~r["region"].isin(REGION_TYPES), lambda i: f"unknown region name "
         f"{r['region'].iloc[i]!r}; expected one of {list(REGION_TYPES)}")
    fail((r["orig_width"] <= 0) | (r["orig_height"] <= 0),
         lambda i: "orig_width and orig_height must be positive")
    for cols, frame in ((BOX_ORIG, "original"), (BOX, "100 x 100")):
        x1, y1, x2, y2 = (r[c] for c in cols)
        fail((x2 <= x1) | (y2 <= y1), lambda i: f"empty box in the {frame} frame: "
             f"x1={x1.iloc[i]:g}, y1={y1.iloc[i]:g}, x2={x2.iloc[i]:g}, y2={y2.iloc[i]:g} "
             "(needs x2 > x1 and y2 > y1)")
    w, h = r["orig_width"], r["orig_height"]
    x1, y1, x2, y2 = (r[c] for c in BOX_ORIG)
    fail((x1 < 0) | (y1 < 0) | (x2 > w) | (y2 > h), lambda i: "box outside the image: "
         f"({x1.iloc[i]:g}, {y1.iloc[i]:g}, {x2.iloc[i]:g}, {y2.iloc[i]:g}) in an image of "
         f"{w.iloc[i]:g} x {h.iloc[i]:g} pixels")
    s = SQUEEZED_SIDE + _TOL
    x1, y1, x2, y2 = (r[c] for c in BOX)
    fail((x1 < -_TOL) | (y1 < -_TOL) | (x2 > s) | (y2 > s), lambda i: "box outside the "
         f"100 x 100 image: ({x1.iloc[i]:g}, {y1.iloc[i]:g}, {x2.iloc[i]:g}, {y2.iloc[i]:g})")


def boxes_to_input(boxes_orig: np.ndarray, orig_size: Tuple[float, float],
                   stored_size: Tuple[int, int], size: int) -> np.ndarray:
    """Map boxes of an original image into network-input pixels.

    Args:
        boxes_orig: (R, 4) x1, y1, x2, y2 in pixels of the original (``orig_size``).
        orig_size: (width, height) of the original, as annotated.
        stored_size: (height, width) of the image file the cache reads (any resolution).
        size: S, the side of the network input (the cache's resize-and-pad square).
    Returns:
        (R, 4) float64 boxes in input pixels (x right, y down; pixel (i, j) spans
        [j, j + 1] x [i, i + 1]).
    """
    from .images import map_boxes

    ow, oh = float(orig_size[0]), float(orig_size[1])
    h, w = int(stored_size[0]), int(stored_size[1])
    b = np.asarray(boxes_orig, np.float64).reshape(-1, 4).copy()
    b[:, [0, 2]] *= w / ow
    b[:, [1, 3]] *= h / oh
    return map_boxes(b, h, w, size)


def image_sizes(paths: Mapping[str, str]) -> Dict[str, Tuple[int, int]]:
    """id -> (height, width) of each image file (reads the PNG headers only)."""
    from PIL import Image

    out = {}
    for i, p in paths.items():
        with Image.open(p) as im:
            w, h = im.size
        out[str(i)] = (h, w)
    return out


def rois_in_input_pixels(rois: pd.DataFrame, index: pd.DataFrame, size: int,
                         source: str = "the regions file") -> pd.DataFrame:
    """Every box of ``rois`` (from :func:`read_rois`) in network-input pixels.

    Args:
        rois: the validated regions frame.
        index: the data folder's index (:func:`arcnn_lib.data.read_index`: ``id``, ``path``).
        size: S, the network's input side.
        source: how to name the regions file in errors.
    Returns:
        DataFrame ``id, region, x1, y1, x2, y2`` in input pixels, rows in the order of
        ``rois``.
    Raises:
        RoiFileError: an id of ``rois`` has no image in ``index`` (names the first row).
    """
    paths = dict(zip(index["id"].astype(str), index["path"]))
    absent = ~rois["id"].isin(paths)
    if absent.any():
        i = int(np.flatnonzero(absent.to_numpy())[0])
        n = rois.loc[absent, "id"].nunique()
        raise RoiFileError(f"{source}, row {i + 2}: id {rois['id'].iloc[i]!r} is not in the "
                           f"data folder {index.attrs.get('root', '')} ({n} such ids)")
    sizes = image_sizes({i: paths[i] for i in rois["id"].unique()})
    out = rois[["id", "region"]].copy()
    boxes = np.zeros((len(rois), 4))
    for i, g in rois.groupby("id", sort=False):
        first = g.iloc[0]
        boxes[rois.index.get_indexer(g.index)] = boxes_to_input(
            g[BOX_ORIG].to_numpy(), (first["orig_width"], first["orig_height"]), sizes[i], size)
    out[BOX] = boxes
    return out.reset_index(drop=True)
