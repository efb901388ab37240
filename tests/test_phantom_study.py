"""The phantom study (arcnn_lib.results.phantom_study), native parts and fitted assembly."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from arcnn_lib.results import phantom_study
from arcnn_lib.results import study_stats as S
from arcnn_lib.results.study_grid import anchor_grids
from arcnn_lib.evaluation.assembly import assembled_mae, eq1_weights, fit_weights
from arcnn_lib.config import ARCNNConfig, scaled_geometry
from arcnn_lib.model import ARCNN, input_and_source


def test_tiny_study_writes_the_issue_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCNN_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert phantom_study.main(["--tiny", "--out", str(out), "--work", str(tmp_path / "w")]) == 0
    text = (out / "study.json").read_text()
    assert str(tmp_path) not in text
    d = json.loads(text)
    assert d["headline_regime"] == "input64_native128"
    rows = pd.DataFrame(d["rows"])
    need = {"variant", "model", "paper_faithful", "regime", "seed", "split", "mae", "mae_x",
            "mae_concat", "mae_r1", "input_size"}
    assert need <= set(rows.columns) and set(rows["split"]) == {"val", "test"}
    head = rows[rows["study"] == "headline"]
    arcnn = {"arcnn_paper", "arcnn_native", "arcnn_sepext", "arcnn_native_sepext",
             "arcnn_native_sepext_perlevel", "arcnn_native_sepext_navpart"}
    assert set(head["variant"]) == ({"baseline_input", "baseline_native"} | arcnn
                                    | {v + "_fitted" for v in arcnn})
    assert set(head[head["paper_faithful"]]["variant"]) == {"baseline_input", "arcnn_paper"}
    # chosen by the validation split alone
    val = head[(head["split"] == "val") & (head["model"] == "arcnn")]
    assert d["chosen"] == val.groupby("variant")["mae"].mean().idxmin()
    # paired differences are the per-seed differences of the rows
    c = d["comparisons"]["chosen_vs_baseline_input"]
    test = head[head["split"] == "test"].set_index(["variant", "seed"])["mae"]
    assert c["per_seed"] == pytest.approx(
        [test[(d["chosen"], s)] - test[("baseline_input", s)] for s in c["seeds"]])
    # the Eq. 1 rows are the model's own assembled estimate; fitted weights are convex
    fitted = head[head["variant"].str.endswith("_fitted")]
    assert all(abs(sum(w) - 1) < 1e-9 and min(w) >= 0 for w in fitted["weights"])
    assert d["native_cost"]["memory_ratio"] == 4.0
    # every point of the regime map has its AR-CNN, trained as the chosen variant's twin
    assert set(S.INPUT_TWIN.values()) | set(S.NATIVE_TWIN.values()) <= set(phantom_study.TRAINED)
    assert all(r["arcnn_eq1"] is not None for r in d["regime_map"])
    # every number the chapters quote is there, and the grid is the one the models used
    from arcnn_lib.results import study_report
    nums = study_report.book_numbers(study_report.load_study(out))
    assert "not available" not in nums.values() and nums["grid_stride"] == "8"
    assert float(nums["grid_ceiling"]) >= float(nums["former_ceiling"])
    # the first design's record reads the same way; without it, nothing is invented
    study = study_report.load_study(out)
    aug = study_report.augmentation_numbers(study, study)
    assert aug["earlier_reduction"] == nums["chosen_reduction"]
    history = pd.read_csv(out / "history_baseline_input_seed0.csv")
    assert aug["train"] == f"{history['train_mae'].iloc[-1]:.1f}"
    assert set(study_report.augmentation_numbers(study, None).values()) == {"not available"}
    # the study trains augmented unless told not to, and its command says how it ran
    assert d["command"].count("--no-augment") == 0
    for name in ("study.csv", "regime_map.png", "fig3_native_parts.png",
                 "history_arcnn_native_seed0.csv", "predictions_baseline_input_seed0.csv"):
        assert (out / name).is_file()


def test_no_augment_is_recorded_in_the_command():
    args = phantom_study.build_parser().parse_args(["--no-augment"])
    assert args.augment is False and "--no-augment" in phantom_study._command(args)
    assert phantom_study.build_parser().parse_args([]).augment is True


def test_fit_weights_recovers_a_convex_combination():
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 228, 200)
    units = {"pred_concat": y + rng.normal(0, 2, 200), "pred_x": y + rng.normal(0, 20, 200),
             "pred_part1": y + 30.0, "pred_part2": y + rng.normal(0, 2, 200),
             "pred_part3": y + rng.normal(0, 50, 200)}
    frame = pd.DataFrame({"boneage": y, **units})
    w = fit_weights(frame, 3)
    assert w.sum() == pytest.approx(1) and (w >= 0).all()
    assert w[0] > 0.3 and w[3] > 0.3 and w[4] < 0.05          # the good units dominate
    assert assembled_mae(frame, w, 3) < assembled_mae(frame, eq1_weights(3), 3)
    with pytest.raises(ValueError, match="unit columns"):
        fit_weights(frame.drop(columns="pred_part3"), 3)


def test_native_parts_read_the_native_copy():
    cfg = ARCNNConfig.smoke(**scaled_geometry(64), part_source="native", native_size=128)
    img = np.random.default_rng(0).integers(0, 256, (128, 128)).astype(np.uint8)
    x, source, f = input_and_source(torch.from_numpy(img).float()[None, None] / 255, cfg)
    pil = np.asarray(Image.fromarray(img).resize((64, 64), Image.BILINEAR), np.float64)
    assert f == 2 and source.shape[-1] == 128
    assert np.abs(x[0, 0].numpy() * 255 - pil).max() < 1.0   # the cache's own filter
    torch.manual_seed(0)
    model = ARCNN(cfg).eval()
    out = model(torch.from_numpy(img)[None, None])
    assert out.part_boxes.max() <= 64 + 1e-4               # boxes stay in input pixels
    with pytest.raises(ValueError, match="128 x 128"):
        model(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match="multiple of image_size"):
        ARCNNConfig.smoke(**scaled_geometry(64), part_source="native", native_size=100)
    with pytest.raises(ValueError, match="part_source"):
        ARCNNConfig.smoke(native_size=256)


def test_anchor_grid_of_the_headline_lets_a_navigator_hit_almost_every_phantom(tmp_path):
    from arcnn_lib.data.phantom import make_phantom
    root = make_phantom(tmp_path / "ph", 40, seed=5, progress=False)
    grids = anchor_grids(root, 256, 64)
    assert [g["stride"] for g in grids] == [8, 16]
    assert [g["chosen_by_scaled_geometry"] for g in grids] == [True, False]
    assert grids[0]["anchors"] > grids[1]["anchors"]
    # the stage-2 grid can point into a cue region on every image; the stage-3 grid cannot
    assert grids[0]["ceiling_top1"] == 1.0 and grids[1]["ceiling_top1"] < 0.9
