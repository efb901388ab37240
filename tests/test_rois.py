"""The expert-regions reader and the one mapping of its boxes into network-input pixels."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arcnn_lib.data import read_index, resize_pad
from arcnn_lib.data.rois import (REGION_TYPES, RoiFileError, boxes_to_input, read_rois,
                                 rois_in_input_pixels)

from data_fixtures import write_png

SAMPLE = Path(__file__).parent / "fixtures" / "rois_sample.csv"


def test_read_rois_reads_the_sample():
    r = read_rois(SAMPLE)
    assert len(r) == 14 and r["id"].nunique() == 3
    assert set(r["region"]) == set(REGION_TYPES)
    assert r["id"].map(type).eq(str).all() and r["x1_orig"].dtype == float
    # the squeezed frame is the original scaled to 100 x 100
    np.testing.assert_allclose(r["x1"], r["x1_orig"] * 100 / r["orig_width"], atol=0.01)


@pytest.mark.parametrize("col,value,message", [
    ("x2_orig", "10", "empty box in the original frame"),          # x2 <= x1
    ("y2_orig", "99999", "box outside the image"),
    ("x2", "120", "outside the 100 x 100 image"),
    ("region", "Elbow", "unknown region name 'Elbow'"),
    ("x1", "abc", "x1 is not a number"),
])
def test_bad_rows_name_file_and_row(tmp_path, col, value, message):
    raw = pd.read_csv(SAMPLE, dtype=str)
    raw.loc[3, col] = value
    path = tmp_path / "bad.csv"
    raw.to_csv(path, index=False)
    with pytest.raises(RoiFileError, match=f"bad.csv, row 5 .*{message}|bad.csv, row 5: {message}"):
        read_rois(path)


def test_missing_column_and_file(tmp_path):
    raw = pd.read_csv(SAMPLE, dtype=str).drop(columns=["orig_width"])
    raw.to_csv(tmp_path / "cols.csv", index=False)
    with pytest.raises(RoiFileError, match="lacks the columns .*orig_width"):
        read_rois(tmp_path / "cols.csv")
    with pytest.raises(RoiFileError, match="not found"):
        read_rois(tmp_path / "nope.csv")


def test_mapping_follows_the_cache_resize_and_pad():
    # a stored image of 50 x 30 (H x W) that is a half-size copy of a 100 x 60 original
    h, w, size = 50, 30, 40
    img = np.zeros((h, w), np.uint8)
    img[10:20, 6:12] = 255                      # stored pixels x 6..12, y 10..20
    box_orig = np.array([[12.0, 20.0, 24.0, 40.0]])
    mapped = boxes_to_input(box_orig, (60, 100), (h, w), size)[0]
    out = resize_pad(img, size)
    ys, xs = np.nonzero(out > 127)
    assert xs.min() >= np.floor(mapped[0]) and xs.max() + 1 <= np.ceil(mapped[2])
    assert ys.min() >= np.floor(mapped[1]) and ys.max() + 1 <= np.ceil(mapped[3])
    cx, cy = (mapped[0] + mapped[2]) / 2, (mapped[1] + mapped[3]) / 2
    assert out[int(cy), int(cx)] == 255
    # portrait: scaled by 40 / 50 and padded on the left and right by (40 - 24) / 2
    np.testing.assert_allclose(mapped[[1, 3]], [10 * 0.8, 20 * 0.8])
    np.testing.assert_allclose(mapped[[0, 2]], [6 * 24 / 30 + 8, 12 * 24 / 30 + 8])


def _folder(root: Path, ids, size=(100, 100)):
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": ids, "boneage": [60.0] * len(ids),
                  "male": [True] * len(ids)}).to_csv(root / "labels.csv", index=False)
    for i in ids:
        write_png(root / "labels" / f"{i}.png", np.zeros(size[::-1], np.uint8))
    return root


def test_rois_in_input_pixels_any_resolution(tmp_path):
    rois = read_rois(SAMPLE)
    ids = sorted(rois["id"].unique())
    small = rois_in_input_pixels(rois, read_index(_folder(tmp_path / "a", ids)), 128)
    # rsna100's frame: the 100 x 100 boxes scaled by 1.28
    np.testing.assert_allclose(small[["x1", "y2"]], rois[["x1", "y2"]] * 1.28, atol=0.02)
    # a folder of 200 x 100 images (wide): the same boxes, squeezed differently, padded
    wide = rois_in_input_pixels(rois, read_index(_folder(tmp_path / "b", ids, (200, 100))), 128)
    np.testing.assert_allclose(wide["x1"], rois["x1_orig"] / rois["orig_width"] * 128)
    np.testing.assert_allclose(wide["y1"], rois["y1_orig"] / rois["orig_height"] * 64 + 32)


def test_id_missing_from_the_data_names_the_row(tmp_path):
    rois = read_rois(SAMPLE)
    index = read_index(_folder(tmp_path / "c", ["4200", "4201"]))
    with pytest.raises(RoiFileError, match=r"rois.csv, row 12: id '4202' is not in the data"):
        rois_in_input_pixels(rois, index, 128, source="rois.csv")
