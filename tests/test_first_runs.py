"""The summary of the first GPU reference runs that the book's engineering note reads."""
import numpy as np
import pytest

from arcnn_lib.results.first_runs import SHARE_COLUMNS, first_runs_table, touches_border
from arcnn_lib.results.reference import FIRST_GPU_DIR, load_reference


def test_touches_border():
    boxes = np.array([[10, 10, 20, 20], [0, 10, 20, 20], [10, 10, 99, 20],
                      [-5, -5, 120, 120], [2.5, 2.5, 97.5, 97.5]])
    assert touches_border(boxes, 100).tolist() == [False, True, True, True, False]
    assert touches_border(boxes, 100, tol=3.0)[-1]


def test_first_runs_table_on_the_stored_runs():
    ref = load_reference(folder=FIRST_GPU_DIR)
    if ref is None:
        pytest.skip("results/reference_gpu_first is not in this checkout")
    table = first_runs_table(ref)
    arcnn = [r["name"] for r in ref.manifest["runs"] if r["model"] == "arcnn"]
    assert list(table.index) == arcnn
    for col in SHARE_COLUMNS:
        assert ((table[col] >= 0) & (table[col] <= 1)).all(), col
    # what the engineering note says of every run
    assert (table["L_att last"] > table["L_cls last"]).all()
    assert (table["MAE A_X"] > table["MAE baseline"]).all()
    row = table.loc[arcnn[0]]
    hist = ref.history(arcnn[0])
    assert row["L_att first"] == hist["train_att"].iloc[0]
    assert row["MAE AR-CNN"] == ref.metrics(arcnn[0])["mae"]
