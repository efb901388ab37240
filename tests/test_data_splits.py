"""Seeded stratified splits, release splits kept, the id,split CSV round trip."""
import numpy as np
import pandas as pd
import pytest

from arcnn_lib.data import make_split, read_split_csv


def _index(n=400, split=""):
    rng = np.random.default_rng(1)
    return pd.DataFrame({"id": [str(i) for i in range(n)],
                         "boneage": rng.integers(0, 229, n).astype(float),
                         "male": rng.random(n) < 0.5, "split": split})


def test_seeded_split_is_stratified_and_reproducible(tmp_path):
    index = _index()
    a = make_split(index, seed=0, dest_csv=tmp_path / "r" / "split.csv")
    assert a["split"].value_counts().to_dict() == {"train": 320, "val": 40, "test": 40}
    assert a.equals(make_split(index, seed=0))
    assert not a["split"].equals(make_split(index, seed=1)["split"])
    for s in ("val", "test"):
        part = a[a["split"] == s]
        assert abs(part["male"].mean() - index["male"].mean()) < 0.06
        assert abs(part["boneage"].mean() - index["boneage"].mean()) < 8
    back = read_split_csv(tmp_path / "r" / "split.csv", index)
    assert back["split"].tolist() == a["split"].tolist()
    assert (index["split"] == "").all()  # the input is not modified


def test_release_splits_are_kept_and_val_carved_from_train():
    index = _index()
    index.loc[:299, "split"] = "train"
    index.loc[300:, "split"] = "test"
    out = make_split(index, seed=0)
    assert (out.loc[300:, "split"] == "test").all()
    assert out["split"].value_counts()["val"] == 40  # 10 % of all labelled rows
    full = _index()
    full["split"] = np.where(np.arange(400) < 300, "train", np.where(np.arange(400) < 350,
                                                                     "val", "test"))
    assert make_split(full, seed=5)["split"].tolist() == full["split"].tolist()


def test_unlabelled_rows_get_no_split():
    index = _index(100)
    index["split"] = "train"
    index.loc[90:, ["boneage", "split"]] = [np.nan, "test"]
    out = make_split(index, seed=0)
    assert (out.loc[90:, "split"] == "").all()
    assert set(out.loc[:89, "split"]) == {"train", "val", "test"}


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="fractions"):
        make_split(_index(), fractions=(0.5, 0.2, 0.2))
    (tmp_path / "s.csv").write_text("id,split\n0,holdout\n")
    with pytest.raises(ValueError, match=r"s\.csv.*holdout"):
        read_split_csv(tmp_path / "s.csv")
    (tmp_path / "t.csv").write_text("id,split\n0,train\n")
    with pytest.raises(ValueError, match="does not match"):
        read_split_csv(tmp_path / "t.csv", _index(3))
