"""Fast tests of the results chapters' helpers (arcnn_lib.results.chapter_tables and
chapter_figures): each source's table, the sentences, and the pointing-game numbers."""
import math

import numpy as np
import pandas as pd
import pytest

from arcnn_lib.results import chapter_figures as cf
from arcnn_lib.results import chapter_tables as ct
from arcnn_lib.results.expert_regions import load_expert_results
from arcnn_lib.results.reference import load_reference
from arcnn_lib.results.study_report import load_study
from arcnn_lib.results.tables import NOT_AVAILABLE


def _metrics(mae, x, c, parts, n=10):
    return {"mae": mae, "mae_x": x, "mae_concat": c, "mae_parts": parts, "n": n}


def test_reference_tables_read_the_committed_runs():
    ref = load_reference()
    if ref is None:
        pytest.skip("no results/reference in this checkout")
    k = ct.reference_k_maes(ref)
    assert list(k) == [f"K = {i}" for i in (1, 2, 3, 4)]
    assert k["K = 3"] == ref.metrics("arcnn_male_k3")["male"]["mae"]
    t3 = ct.reference_table3(ref)
    m, f = ref.metrics("arcnn_male_k3"), ref.metrics("arcnn_female_k3")
    n_m, n_f = m["male"]["n"], f["female"]["n"]
    want = (m["male"]["mae"] * n_m + f["female"]["mae"] * n_f) / (n_m + n_f)
    assert math.isclose(t3["arcnn"]["all"], want, rel_tol=1e-12)
    frame = ct.table3_frame(t3)
    assert list(frame.columns) == ["boys", "girls", "all"] and len(frame) == 3


def test_missing_sources_read_not_available():
    assert set(ct.reference_k_maes(None).values()) == {None}
    units = ct.reference_units(None)
    assert ct.units_table(units, 3).eq(NOT_AVAILABLE).all().all()
    assert "not available" in ct.assembly_sentence("reference", units)
    assert "not available" in ct.best_k_sentence("reference", {"K = 1": None})
    assert "cannot be checked" in ct.targets_sentence(None)


def test_units_and_sentences():
    live = {"male": _metrics(3.0, 4.0, 5.0, [6.0, 7.0, 8.0]),
            "female": _metrics(6.0, 4.0, 5.0, [6.0, 7.0, 8.0])}
    u = ct.live_units(live, 3)
    assert u["male"] == {"X": 4.0, "C": 5.0, "R1": 6.0, "R2": 7.0, "R3": 8.0, "A_asb": 3.0}
    s = ct.assembly_sentence("live run", u)
    assert "for the boys A_asb (3.00) beats" in s
    assert "for the girls the single unit X (4.00) beats A_asb (6.00)" in s
    assert ct.units_table(u, 3).loc["R2", "girls"] == "7.00"
    b = ct.best_k_sentence("reference", {"K = 1": 2.0, "K = 3": 1.0, "K = 4": 5.0})
    assert "lowest MAE is at K = 3 (1.00" in b and "5.00 at K = 4" in b


def test_live_table3_and_compare():
    m = {"baseline": {"mae": 2.0, "male": {"mae": 1.0}, "female": {"mae": 3.0}},
         "arcnn": {"mae": 4.0, "male": {"mae": 4.0}, "female": {"mae": 4.0}}}
    t = ct.live_table3(m, {"male": 9.0, "female": 9.0, "all": 9.0})
    assert t["baseline"] == {"male": 1.0, "female": 3.0, "all": 2.0}
    s = ct.compare_sentence("live run", t)
    assert "the baseline is more accurate than AR-CNN" in s and "9.00" in s


def test_study_sentences():
    study = load_study()
    if study is None:
        pytest.skip("no results/phantom_study in this checkout")
    t = ct.targets_sentence(study)
    met = sum(bool(study["targets"][k]) for k in ("chosen_beats_baseline_every_seed",
                                                  "mean_reduction_at_least_15pct",
                                                  "pointing_top1_at_least_0.9"))
    assert f"{met} of the 3 targets met" in t and "paper-faithful model's navigator" in t
    # the pointing table: one row per trained AR-CNN variant, the mean of its seed columns
    from arcnn_lib.results import study_report
    p = study_report.pointing_table(study)
    seeds = [c for c in p.columns if c.startswith("seed")]
    assert len(p) == len(study_report.ARCNN_TRAINED) and len(seeds) == len(study["seeds"])
    assert (p[seeds].mean(axis=1) - p["mean"]).abs().max() <= 0.01
    assert (p["mean"] <= p["ceiling"]).all()
    d = study["comparisons"]["paper_vs_baseline_input"]["per_seed"]
    agree = 1.0 if all(x > 0 for x in d) else -1.0
    assert "does not contradict" in ct.live_against_study(study, agree, 128)
    assert "verdict stands" in ct.live_against_study(study, -agree, 128)


def test_ablation_effects():
    rows = pd.DataFrame({"variant": ["arcnn"] * 3 + ["baseline"] * 3, "seed": [0, 1, 2] * 2,
                         "A_asb": [10.0, 11.0, 12.0, 9.0, 10.5, 12.5],
                         "X": [1.0] * 6, "C": [1.0] * 6, "R1": [2.0] * 6})
    assert list(ct.paired(rows, "baseline")) == [-1.0, -0.5, 0.5]
    assert ct.effect(rows, "baseline") == "lower in 2 of 3 seeds (mean -0.33 months)"
    assert ct.effect(rows, "arcnn_no_clip") == "not measured in this copy"
    t = ct.ablation_table(rows, ["A_asb", "X"])
    assert t.loc["baseline", ("A_asb - arcnn", "per seed")] == "-1.00, -0.50, +0.50"
    live = {"mae_concat": 3.0, "mae_x": 4.0, "mae_parts": [6.0]}
    s = ct.part_sentence(rows, live)
    assert "lowers the MAE by 1.00 months on the phantom" in s
    assert "1.00 months worse than the whole-image unit X on rsna100" in s


def test_part_scales_picks_the_nearest_scale():
    pred = pd.DataFrame({"part1_x1": [0.0], "part1_y1": [0.0], "part1_x2": [10.0],
                         "part1_y2": [40.0]})          # side sqrt(400) = 20
    assert list(ct.part_scales(pred, 1, [16, 32, 64])) == [16]


def test_cue_coverage_and_border_share():
    regions = [np.array([[0.0, 0.0, 2.0, 2.0]]), np.zeros((0, 4))]
    cover = cf.cue_coverage(regions, 4)
    assert cover[0, 0] == 0.5 and cover[1, 1] == 0.5 and cover[2, 2] == 0.0
    boxes = np.array([[0, 0, 2, 2], [40, 40, 60, 60]], float)   # centres 1 and 50
    assert cf.border_share(boxes, 100, band=0.1) == 0.5


def test_pointing_verdict():
    v = cf.pointing_verdict(top1=0.5, chance=0.1, n=100, fixed_best=0.9)
    assert math.isclose(v["se"], 0.03) and v["z"] > 3
    assert v["verdict"] == "clearly above chance" and v["vs_fixed"] == "lower than"
    assert cf.pointing_verdict(0.1, 0.1, 100, 0.1)["vs_fixed"] == "about the same as"


def test_expert_numbers():
    assert math.isnan(cf.expert_numbers(None, None)["top1"])
    tr, un = load_expert_results("trained"), load_expert_results("untrained")
    if tr is None or un is None:
        pytest.skip("no results/rsna100_rois in this checkout")
    e = cf.expert_numbers(tr, un)
    assert e["top1"] == tr["summary"]["top1_hit"]
    assert e["verdict"] in ("beats", "does not beat") and e["k"] >= 1
    assert 0 <= e["fixed_region_share"] <= 1


def test_paper_k_and_source_panels():
    import matplotlib
    matplotlib.use("Agg")
    from arcnn_lib.results.paper import PAPER_TABLE1
    assert ct.paper_k_maes()["K = 3"] == PAPER_TABLE1[3]
    fig = cf.source_panels({"a": {"s": {"x": 1.0, "y": 2.0}}, "empty": {"s": {"x": None}}},
                           "MAE")
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "a"


def test_study_verdict_separates_the_idea_from_the_paper_model():
    import copy
    from arcnn_lib.results import study_report
    study = load_study()
    if study is None:
        pytest.skip("no results/phantom_study in this checkout")
    s = copy.deepcopy(study)
    s["targets"].update(chosen_beats_baseline_every_seed=True,
                        mean_reduction_at_least_15pct=True)
    s["chosen"] = "arcnn_native_sepext_fitted"
    s["comparisons"]["paper_vs_baseline_input"]["per_seed"] = [1.0, 2.0, 3.0]
    assert "not the paper's model as published" in study_report.verdict(s)
    s["comparisons"]["paper_vs_baseline_input"]["per_seed"] = [-1.0, 2.0, 3.0]
    assert "support the paper's claim" in study_report.verdict(s)
    s["targets"]["mean_reduction_at_least_15pct"] = False
    assert "small advantage" in study_report.verdict(s)
    s["targets"]["chosen_beats_baseline_every_seed"] = False
    assert "do not support" in study_report.verdict(s)
    # the steadiest pointer is the variant whose worst seed is best
    nums = study_report.book_numbers(study)
    table = study_report.pointing_table(study)
    seeds = [c for c in table.columns if c.startswith("seed")]
    assert nums["steady_pointer"] == table[seeds].min(axis=1).idxmax()
    chosen = study_report.model_label(study["chosen"].replace("_fitted", ""))
    assert ("is also" in nums["estimator_and_pointer"]) == (nums["steady_pointer"] == chosen)
    # seeds whose navigator never found the cues are named from the rows, or none are
    fixed = copy.deepcopy(study)
    for row in fixed["rows"]:
        if row["variant"].startswith("arcnn_native_sepext_navpart"):
            row["pointing_top1"] = 0.99
    assert "in every seed" in study_report.book_numbers(fixed)["navpart_failures"]
    low = [r["seed"] for r in study["rows"] if r["variant"] == "arcnn_native_sepext_navpart"
           and r["split"] == "test" and r["study"] == "headline" and r["pointing_top1"] < 0.5]
    if low:
        assert f"In seed {low[0]}" in nums["navpart_failures"]
