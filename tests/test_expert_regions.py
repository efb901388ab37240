"""Scoring a model against expert regions end to end, shared checkpoints, the sanity check."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from arcnn_lib.engine import checkpoint as ckpt_io
from arcnn_lib.evaluation.evaluator import load_model
from arcnn_lib.results.expert_regions import main
from arcnn_lib.evaluation.roi_attribution import gradcam_concat, randomisation_check, reinitialised
from arcnn_lib.engine.share_checkpoint import share
from arcnn_lib import TrainConfig, train

from data_fixtures import hand_like, write_png

N = 8


@pytest.fixture(scope="module")
def tiny_real(tmp_path_factory):
    """A csv-folder data set of N noise images (100 x 100) with two expert boxes each, and a
    smoke model trained on it for one epoch, shared with its untrained counterpart."""
    root = tmp_path_factory.mktemp("tiny_real")
    data, cache = root / "data", root / "cache"
    ids = [str(7000 + i) for i in range(N)]
    data.mkdir()
    pd.DataFrame({"id": ids, "boneage": np.linspace(20, 200, N),
                  "male": [i % 2 == 0 for i in range(N)]}).to_csv(data / "t.csv", index=False)
    for k, i in enumerate(ids):
        write_png(data / "t" / f"{i}.png", hand_like(100, 100, seed=k))
    rows = []
    for i in ids:   # originals of 200 x 300 pixels
        rows.append([i, "Wrist", 30, 50, 60, 80, 200, 300, 60, 150, 120, 240])
        rows.append([i, "MCP", 40, 30, 50, 40, 200, 300, 80, 90, 100, 120])
    rois = root / "rois.csv"
    pd.DataFrame(rows, columns=["id", "region", "x1", "y1", "x2", "y2", "orig_width",
                                "orig_height", "x1_orig", "y1_orig", "x2_orig", "y2_orig"]
                 ).to_csv(rois, index=False)
    res = train(TrainConfig(data=str(data), out=str(root / "run"), profile="smoke", epochs=1,
                            batch_size=4, num_threads=1, cache_dir=str(cache), progress=False))
    shared = share(res.checkpoint, root / "shared" / "trained.pt", "tiny")
    untrained = share(res.checkpoint, root / "shared" / "untrained.pt", "tiny",
                      untrained=True)
    return dict(data=data, cache=cache, rois=rois, trained=shared, untrained=untrained,
                source=res.checkpoint, root=root)


def test_shared_checkpoints_are_small_loadable_and_portable(tiny_real):
    s = ckpt_io.load(tiny_real["trained"])
    assert "optimizer" not in s and "rng" not in s and s["train_config"]["data"] == "tiny"
    assert (tiny_real["trained"].parent / "split.csv").is_file()
    m_shared, _, _ = load_model(tiny_real["trained"])
    m_src, _, _ = load_model(tiny_real["source"])
    for a, b in zip(m_shared.state_dict().values(), m_src.state_dict().values()):
        assert torch.equal(a, b)
    # the untrained counterpart: the weights training started from (seeded), epoch 0
    u = ckpt_io.load(tiny_real["untrained"])
    assert u["epoch"] == 0 and u["untrained"]
    m_u, cfg, _ = load_model(tiny_real["untrained"])
    from arcnn_lib.model import build_model
    torch.manual_seed(0)
    fresh = build_model(cfg)
    for a, b in zip(m_u.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in
                   zip(m_u.state_dict().values(), m_src.state_dict().values()))


def test_cli_writes_summary_and_per_image(tiny_real, tmp_path):
    out = tmp_path / "out"
    rc = main(["--checkpoint", str(tiny_real["trained"]), "--data", str(tiny_real["data"]),
               "--rois", str(tiny_real["rois"]), "--out", str(out), "--ig-steps", "2",
               "--sanity-images", "2", "--attribution-images", "all",
               "--occlusion-window", "32", "--occlusion-stride", "32", "--figure-per-sex", "2",
               "--cache-dir", str(tiny_real["cache"]),
               "--num-threads", "1"])
    assert rc == 0
    s = json.loads((out / "summary.json").read_text())
    for key in ("n_images", "top1_hit", "topk_hit", "random_top1", "fixed_anchor_top1",
                "per_region", "by_sex", "attribution_mass_in_rois", "roi_area_share",
                "randomisation", "heldout", "command", "git_commit", "hardware", "date"):
        assert key in s, key
    per = pd.read_csv(out / "per_image.csv", dtype={"id": str})
    assert s["n_images"] == len(per) == N
    assert s["top1_hit"] == pytest.approx(per["top1"].mean())
    assert set(s["by_sex"]) == {"male", "female"}
    assert s["heldout"]["n"] == (per["split"] != "train").sum()
    shares = [v["topk"] for v in s["per_region"].values()]
    assert sum(shares) >= 1 - 1e-9          # every part lands somewhere, or on none
    for k, v in s["attribution_mass_in_rois"].items():
        assert 0 <= v <= 1 and 0 < s["roi_area_share"][k] < 1
    assert per["rho_IG_A_X"].notna().sum() == 2
    assert (out / "fig3_expert.png").stat().st_size > 10_000
    from arcnn_lib.results.expert_regions import load_expert_results
    back = load_expert_results(root=out)
    assert back["summary"]["n_images"] == N and len(back["per_image"]) == N
    assert "/" not in s["command"].split("--data ")[1].split()[0].strip("<>")


def test_cli_names_the_bad_row(tiny_real, tmp_path, capsys):
    raw = pd.read_csv(tiny_real["rois"], dtype=str)
    raw.loc[4, "id"] = "999"
    bad = tmp_path / "bad.csv"
    raw.to_csv(bad, index=False)
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(tiny_real["trained"]), "--data", str(tiny_real["data"]),
              "--rois", str(bad), "--out", str(tmp_path / "o"), "--no-attribution",
              "--cache-dir", str(tiny_real["cache"])])
    assert "bad.csv, row 6: id '999' is not in the data folder" in capsys.readouterr().err


def test_gradcam_concat_and_randomisation_check(tiny_real):
    model, cfg, _ = load_model(tiny_real["trained"])
    x = torch.rand(2, 1, cfg.image_size, cfg.image_size)
    male = torch.tensor([True, False])
    with torch.no_grad():
        boxes = model(x, male).part_boxes
    cam = gradcam_concat(model, x, male, boxes)
    assert cam.shape == x.shape and (cam >= 0).all()
    fresh = reinitialised(model, seed=1)
    other = gradcam_concat(fresh, x, male, boxes)
    same = randomisation_check({("G", "C"): cam}, {("G", "C"): cam.clone()})
    np.testing.assert_allclose(same[("G", "C")], 1.0)
    diff = randomisation_check({("G", "C"): cam}, {("G", "C"): other})[("G", "C")]
    assert np.all(diff < 0.999)


def test_summary_scores_the_prior_on_held_out_images_only():
    from arcnn_lib.results.expert_regions import summary
    f = pd.DataFrame({
        "male": [True, True, False, False], "split": ["train", "test", "train", "val"],
        "top1": [True, False, True, True], "topk": [True, True, True, True],
        "fixed_top1": [True, True, False, False], "random_top1": [False] * 4,
        "random_topk": [False] * 4, "random_top1_expected": [0.1] * 4,
        **{f"top1_{t}": [False] * 4 for t in ("DIP", "PIP", "MCP", "Radius", "Ulna", "none")},
        "top1_Wrist": [True, False, True, True],
        **{f"topk_{t}": [0.0] * 4 for t in ("DIP", "PIP", "MCP", "Radius", "Ulna")},
        "topk_Wrist": [0.0, 0.0, 1 / 3, 2 / 3], "topk_none": [1.0, 1.0, 2 / 3, 1 / 3]})
    s = summary(f)
    assert s["n_images"] == 4 and s["top1_hit"] == 0.75
    assert s["heldout"]["n"] == 2 and s["heldout"]["top1_hit"] == 0.5
    assert s["fixed_anchor_top1"] == 0.5                  # test (hit) and val (miss) only
    assert s["by_sex"]["female"]["fixed_anchor_top1"] == 0.0
    assert s["sex_contrast"]["Wrist"]["female_minus_male"] == pytest.approx(0.5)
    assert "attribution_mass_in_rois" not in s            # pointing only
