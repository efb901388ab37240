"""Fast tests of the side-by-side table helpers (arcnn_lib.results.tables)."""
import numpy as np
import pandas as pd
import pytest

from arcnn_lib.evaluation.metrics import mae_from_frame
from arcnn_lib.results.tables import (NOT_AVAILABLE, fmt, hardware_text, pooled_mae, reference_label,
                              sex_metrics, side_by_side, unit_maes, unit_names)


def _frame():
    rng = np.random.default_rng(0)
    n = 20
    y = rng.uniform(0, 200, n)
    cols = {"id": [str(i) for i in range(n)], "male": np.arange(n) % 2 == 0, "boneage": y,
            "pred": y + rng.normal(0, 5, n), "pred_x": y + rng.normal(0, 8, n),
            "pred_concat": y + rng.normal(0, 6, n)}
    for i in range(4):
        cols[f"pred_part{i + 1}"] = y + rng.normal(0, 10, n)
    return pd.DataFrame(cols)


def test_unit_names():
    assert unit_names(3) == ["X", "C", "R1", "R2", "R3", "A_asb"]
    assert unit_names(0) == ["X", "C", "A_asb"]


def test_unit_maes_matches_the_metrics():
    pred = _frame()
    m = mae_from_frame(pred)
    u = unit_maes(m, 3)
    assert list(u) == unit_names(3)
    assert u["X"] == m["mae_x"] and u["C"] == m["mae_concat"] and u["A_asb"] == m["mae"]
    assert [u["R1"], u["R2"], u["R3"]] == m["mae_parts"][:3]
    # more parts asked than the model has; absent and empty sources
    assert unit_maes(m, 5)["R5"] is None
    assert set(unit_maes(None, 2).values()) == {None}
    assert set(unit_maes({"n": 0}, 2).values()) == {None}


def test_baseline_has_only_x_and_the_answer():
    pred = _frame()[["id", "male", "boneage", "pred", "pred_x"]]
    u = unit_maes(mae_from_frame(pred), 2)
    assert u["C"] is None and u["R1"] is None and u["A_asb"] is not None


def test_sex_metrics():
    m = {"n": 3, "mae": 1.0, "male": {"n": 3, "mae": 1.0}, "female": {"n": 0}}
    assert sex_metrics(m) is m
    assert sex_metrics(m, "male")["mae"] == 1.0
    assert sex_metrics(m, "female") is None
    assert sex_metrics(None, "male") is None


def test_pooled_mae_is_the_mae_of_the_union():
    pred = _frame()
    males = pred[pred["male"]]
    females = pred[~pred["male"]].iloc[:7]      # unequal sizes
    a, b = mae_from_frame(males), mae_from_frame(females)
    pooled = pooled_mae([(a["mae"], a["n"]), (b["mae"], b["n"])])
    both = mae_from_frame(pd.concat([males, females]))
    assert pooled == pytest.approx(both["mae"], rel=1e-12)
    assert pooled_mae([(1.0, 2), (None, 3)]) is None
    assert pooled_mae([]) is None


def test_side_by_side_marks_missing_values():
    t = side_by_side({"paper": {"K=3": 4.32, "K=1": "higher"}, "reference": None,
                      "live": {"K=1": 10.0, "K=3": float("nan")}},
                     ["K=1", "K=3"], index_name="K")
    assert list(t.columns) == ["paper", "reference", "live"]
    assert t.index.name == "K"
    assert t.loc["K=3", "paper"] == "4.32" and t.loc["K=1", "paper"] == "higher"
    assert (t["reference"] == NOT_AVAILABLE).all()
    assert t.loc["K=1", "live"] == "10.00" and t.loc["K=3", "live"] == NOT_AVAILABLE
    assert fmt(3.14159, 1) == "3.1"


def test_labels():
    gpu = {"gpu": "NVIDIA H200", "gpu_count": 1, "cpu_count": 16}
    assert hardware_text(gpu) == "NVIDIA H200"
    assert hardware_text({"gpu": "A100", "gpu_count": 4}) == "4 x A100"
    assert hardware_text({"torch_threads": 2}) == "CPU (2 threads)"
    assert hardware_text({"torch_threads": 1}) == "CPU (1 thread)"
    assert hardware_text("CPU (2 threads, x86_64)") == "CPU (2 threads, x86_64)"
    label = reference_label({"data": "rsna100", "profile": "demo", "hardware": gpu,
                             "epochs": 14})
    assert label == "rsna100 / demo / NVIDIA H200 / 14 epochs"
    assert reference_label(None) == NOT_AVAILABLE


def test_every_unit_has_one_name_the_papers():
    from arcnn_lib.model.units import unit_label, unit_suffixes
    assert [unit_label(s) for s in unit_suffixes(2)] == ["A_asb", "X", "C", "R1", "R2"]
    with pytest.raises(ValueError, match="_parts"):
        unit_label("_parts")


def test_reference_markdown_quotes_every_value_of_the_papers_tables():
    from arcnn_lib.results.paper import PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3
    from arcnn_lib.results.tables import reference_markdown
    tables = {"table1_male_k": [{"K": 3, "mae": 11.5, "n": 9}],
              "table2_units": [{"sex": "male", **unit_maes(mae_from_frame(_frame()), 3)}],
              "table3_mae": {"arcnn": {"male": 11.5}, "baseline": {"male": 10.25}}}
    md = reference_markdown(tables, {"git_commit": "abc", "profile": "smoke"})
    values = list(PAPER_TABLE1.values()) + [v for row in PAPER_TABLE2.values()
                                            for v in row.values()] + [r[3] for r in PAPER_TABLE3]
    for v in values:
        assert f"| {v:.2f} |" in md
    assert "| 11.50 |" in md and "| 10.25 |" in md and "not available" in md
