"""read_index on every layout, and every kind of bad input it must name."""
import numpy as np
import pandas as pd
import pytest

from arcnn_lib.data import read_index
from arcnn_lib.data.layouts import DataLayoutError
from data_fixtures import make_csv_folder, make_kaggle, make_rsna2017, write_png, hand_like


@pytest.mark.parametrize("nested", [False, True])
def test_kaggle_layout_flat_and_nested(tmp_path, nested):
    index = read_index(make_kaggle(tmp_path, nested=nested))
    assert index.attrs["layout"] == "kaggle"
    assert list(index.columns) == ["id", "path", "boneage", "male", "split"]
    assert list(index["split"]) == ["train"] * 6 + ["test"] * 2
    assert index["boneage"].iloc[:6].tolist() == [12.0 * k for k in range(1, 7)]
    assert index["boneage"].iloc[6:].isna().all()
    assert index["male"].tolist()[:2] == [True, False]
    assert index["male"].tolist()[6:] == [True, False]  # Sex M / F
    assert all(p.endswith(f"{i}.png") and p.startswith(str(tmp_path.resolve()))
               for i, p in zip(index["id"], index["path"]))


def test_rsna2017_layout(tmp_path):
    index = read_index(make_rsna2017(tmp_path))
    assert index.attrs["layout"] == "rsna2017"
    assert index["split"].tolist() == ["train"] * 3 + ["val"] * 2 + ["test"] * 2
    assert index["id"].tolist() == ["1", "2", "3", "1386", "1392", "4360", "4361"]
    assert index["boneage"].iloc[5] == pytest.approx(168.934)  # non-integer test ages
    assert index["male"].tolist() == [True, False, True, True, False, True, False]


def test_csv_folder_is_sorted_numerically_without_splits(tmp_path):
    rows = [dict(id=i, boneage=50, male="False") for i in (10, 9, 100)]
    index = read_index(make_csv_folder(tmp_path, rows))
    assert index.attrs["layout"] == "csv-folder"
    assert index["id"].tolist() == ["9", "10", "100"]
    assert (index["split"] == "").all() and index["male"].dtype == bool


def test_unknown_layout_lists_found_and_expected(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "images").mkdir()
    with pytest.raises(DataLayoutError, match=r"images/.*notes\.txt.*Expected.*Kaggle"):
        read_index(tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(DataLayoutError, match="not found"):
        read_index(tmp_path / "nope")


@pytest.mark.parametrize("rows, pattern", [
    ([dict(id=1, age=3, male=True)], r"lacks the bone age \(months\) column.*\['id', 'age'"),
    ([dict(id=1, boneage="ten", male=True)], r"row 2: bone age not a number: 'ten'"),
    ([dict(id=1, boneage=12, male=True), dict(id=2, boneage="", male=True)],
     r"row 3: bone age missing"),
    ([dict(id=1, boneage=241, male=True)], r"row 2: bone age 241 months is outside \[0, 240\]"),
    ([dict(id=1, boneage=-1, male=True)], r"outside"),
    ([dict(id=1, boneage=12, male="maybe")], r"row 2: cannot read male 'maybe'"),
    ([dict(id=1, boneage=12, male=True), dict(id=1, boneage=13, male=True)],
     r"duplicate id '1'"),
])
def test_bad_tables_name_file_and_row(tmp_path, rows, pattern):
    make_csv_folder(tmp_path, rows, image_ids=[1])
    with pytest.raises(DataLayoutError, match=pattern) as err:
        read_index(tmp_path)
    assert "boneage-training-dataset" in str(err.value)


def test_missing_image_is_an_error_or_skipped_with_one_warning(tmp_path):
    rows = [dict(id=i, boneage=12, male=True) for i in (1, 2, 3)]
    make_csv_folder(tmp_path, rows, image_ids=[1])
    with pytest.raises(DataLayoutError, match=r"2 image\(s\).*missing.*\['2', '3'\]"):
        read_index(tmp_path)
    with pytest.warns(UserWarning, match=r"\['2', '3'\]"):
        index = read_index(tmp_path, skip_missing=True)
    assert index["id"].tolist() == ["1"]


def test_empty_data_set(tmp_path):
    pd.DataFrame(columns=["id", "boneage", "male"]).to_csv(
        tmp_path / "boneage-training-dataset.csv", index=False)
    with pytest.raises(DataLayoutError, match="empty"):
        read_index(tmp_path)


def test_duplicate_ids_across_release_tables(tmp_path):
    make_rsna2017(tmp_path)
    write_png(tmp_path / "boneage-training-dataset" / "1386.png", hand_like())
    pd.DataFrame({"id": [1, 2, 3, 1386], "boneage": [10, 100, 200, 5],
                  "male": [True] * 4}).to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(DataLayoutError, match=r"duplicate id '1386'") as err:
        read_index(tmp_path)
    assert "train.csv" in str(err.value) and "Validation Dataset.csv" in str(err.value)


def test_generic_single_csv_folder(tmp_path):
    pd.DataFrame({"ID": ["a1", "a2"], "BoneAge": [1.5, 2], "Male": ["true", "false"]}).to_csv(
        tmp_path / "labels.csv", index=False)
    for i in ("a1", "a2"):
        write_png(tmp_path / "labels" / f"{i}.png", hand_like())
    index = read_index(tmp_path)
    assert index.attrs["layout"] == "csv-folder"
    assert index["boneage"].tolist() == [1.5, 2.0] and index["male"].tolist() == [True, False]
    assert np.issubdtype(index["boneage"].dtype, np.floating)
