"""The phantom: determinism, region validity, age only in the cue boxes, the folder."""
import hashlib

import numpy as np
import pytest

from arcnn_lib.data import (REGION_NAMES, make_phantom, maturity, phantom_folder, read_index,
                            read_regions, render_hand)


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes(tmp_path):
    a = make_phantom(tmp_path / "a", 6, seed=3, size=96, progress=False)
    b = make_phantom(tmp_path / "b", 6, seed=3, size=96, progress=False)
    c = make_phantom(tmp_path / "c", 6, seed=4, size=96, progress=False)
    assert _digest(a) == _digest(b) != _digest(c)


def test_phantom_reads_as_a_data_set_with_valid_regions(tmp_path):
    root = make_phantom(tmp_path / "p", 12, seed=0, size=128, progress=False)
    index = read_index(root)
    assert index.attrs["layout"] == "phantom" and len(index) == 12
    assert index["boneage"].between(0, 228).all()
    regions = read_regions(root)
    assert regions.groupby("id").size().eq(len(REGION_NAMES)).all()
    assert set(regions["region"]) == set(REGION_NAMES)
    w, h = regions["x2"] - regions["x1"], regions["y2"] - regions["y1"]
    assert (regions[["x1", "y1"]] >= 0).all().all() and (regions[["x2", "y2"]] <= 128).all().all()
    assert (w >= 0.08 * 128).all() and (h >= 0.08 * 128).all()
    assert (w <= 0.25 * 128).all() and (h <= 0.25 * 128).all()
    assert "synthetic" in (root / "README.md").read_text().lower()


def test_age_changes_pixels_only_inside_the_cue_boxes():
    young, boxes = render_hand(20, True, np.random.default_rng(5), 256)
    old, boxes_old = render_hand(200, True, np.random.default_rng(5), 256)
    assert boxes == boxes_old  # the same nuisances give the same geometry
    outside = np.ones(young.shape, bool)
    for _, x1, y1, x2, y2 in boxes:
        outside[y1:y2, x1:x2] = False
    diff = young.astype(int) != old.astype(int)
    assert diff[~outside].sum() > 200
    assert diff[outside].sum() == 0


def test_girls_mature_earlier_and_bad_age():
    assert maturity(150, male=False) > maturity(150, male=True)
    assert maturity(240, male=True) == 1.0
    with pytest.raises(ValueError, match="age_months"):
        render_hand(300, True, np.random.default_rng(0))


def test_phantom_folder_is_generated_once(tmp_path):
    a = phantom_folder(n=5, seed=1, size=64, cache_dir=tmp_path, progress=False)
    stamp = (a / "README.md").stat().st_mtime_ns
    b = phantom_folder(n=5, seed=1, size=64, cache_dir=tmp_path, progress=False)
    assert a == b and (b / "README.md").stat().st_mtime_ns == stamp
    assert len(read_index(a)) == 5
