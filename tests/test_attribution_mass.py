"""attribution_mass: the hand mask finds a bright hand on a dark film, and the mass table
scores maps worked by hand; the chapter 12 figures draw (Agg backend)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from arcnn_lib.evaluation.attribution_mass import hand_mask, mass_table  # noqa: E402
from arcnn_lib.results import attribution_figures as AF  # noqa: E402

S = 32


def test_hand_mask_finds_a_bright_square():
    x = torch.full((1, 1, S, S), 0.1)
    x[..., 8:24, 8:24] = 0.8
    mask = hand_mask(x)
    assert mask.shape == (1, S, S) and mask.dtype == torch.bool
    assert mask[0, 10:22, 10:22].all()          # well inside the square
    assert not mask[0, :5].any() and not mask[0, :, :5].any()   # the film


def _maps():
    inside = torch.zeros(2, 1, S, S)
    inside[..., 0:8, 0:8] = 1.0                 # all mass in the top-left 8 x 8
    return {"IG  A_X": inside, "IG  A_R1": inside.clone()}


def test_mass_table_by_hand():
    boxes = torch.tensor([[0.0, 0.0, 8.0, 8.0], [16.0, 16.0, 32.0, 32.0]]).expand(2, 2, 4)
    regions = [torch.tensor([[0.0, 0.0, 4.0, 8.0]])] * 2     # half of the first box
    hand = torch.zeros(2, S, S, dtype=torch.bool)
    hand[:, :16, :16] = True
    t = mass_table(_maps(), boxes, k=1, regions=regions, hand=hand)
    row = t.loc["IG  A_X"]
    assert row["parts mass"] == pytest.approx(1.0)
    assert row["parts area"] == pytest.approx(64 / S ** 2)
    assert row["cue mass"] == pytest.approx(0.5)
    assert row["cue area (hand)"] == pytest.approx(32 / 256)
    part = t.loc["IG  A_R1"]                     # scored inside its own box
    assert part["cue mass"] == pytest.approx(0.5)
    assert part["cue area (box)"] == pytest.approx(0.5)
    assert "cue mass" not in mass_table(_maps(), boxes, k=1).columns


def test_chapter_12_figures_draw():
    images = torch.rand(2, 1, S, S)
    boxes = torch.tensor([[0.0, 0.0, 8.0, 8.0], [16.0, 16.0, 32.0, 32.0]]).expand(2, 2, 4)
    maps = {**_maps(), "Grad-CAM  A_X": torch.rand(2, 1, S, S)}
    figs = [AF.attribution_grid(images, maps, boxes, [100.0, 150.0], k=2, rows=(0, 1),
                                label="test")]
    one = mass_table(maps, boxes, k=1, regions=[torch.tensor([[0.0, 0.0, 4.0, 8.0]])] * 2)
    figs.append(AF.mass_bars(pd.concat({"trained": one, "untrained": one}), k=1))
    cols = ["map rho", "map rho (unwarped)", "shift px", "shift px (unmapped)",
            "|dA_asb| months"]
    idx = pd.MultiIndex.from_product([["rotate", "zoom"], ["trained", "untrained"]],
                                     names=["transform", "model"])
    figs.append(AF.stability_bars(pd.DataFrame(0.5, index=idx, columns=cols), k=2))
    real = pd.DataFrame({"mass, trained": [0.5], "mass, untrained": [0.4],
                         "area share": [0.3]}, index=["IG A_X"])
    figs.append(AF.expert_mass_bars(real, n=10))
    for fig in figs:
        assert fig.axes
        plt.close(fig)
