"""Captum wrappers of arcnn_lib.evaluation.interpret: units equal the model, attributions equal their
from-scratch definitions, the scores are right on cases worked by hand. Fast (tiny model)."""
import math

import numpy as np

import pytest
import torch

pytest.importorskip("captum")

from arcnn_lib.evaluation import interpret as I  # noqa: E402
from arcnn_lib.evaluation import stability as St  # noqa: E402
from arcnn_lib.config import ARCNNConfig  # noqa: E402
from arcnn_lib.model import ARCNN  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # The tiny model gains nothing from threads, and they contend on a busy CI machine.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    cfg = ARCNNConfig.smoke(use_sex=True)
    model = ARCNN(cfg).eval()
    g = torch.Generator().manual_seed(1)
    images = torch.rand(2, 1, cfg.image_size, cfg.image_size, generator=g)
    male = torch.tensor([True, False])
    return model, images, male


def test_units_equal_model_outputs(setup):
    model, images, male = setup
    with torch.no_grad():
        out = model(images, male)
        boxes = I.selected_boxes(model, images, male)
        assert torch.equal(boxes, out.part_boxes)
        for unit, ref in (("x", out.age_x), ("concat", out.age_concat), ("asb", out.age)):
            for b in (None, boxes):
                torch.testing.assert_close(I.AgeUnit(model, unit)(images, male, b), ref)
        for p in (0, model.config.num_parts - 1):
            torch.testing.assert_close(I.AgeUnit(model, "part", p)(images, male, boxes),
                                       out.age_parts[:, p])
            torch.testing.assert_close(I.AgeUnit(model, "part", p)(images, male),
                                       out.age_parts[:, p])


def test_unit_arguments_checked(setup):
    model, _, _ = setup
    with pytest.raises(ValueError, match="unknown unit"):
        I.AgeUnit(model, "y")
    with pytest.raises(ValueError, match="part must be"):
        I.AgeUnit(model, "part", model.config.num_parts)


def test_ig_equals_midpoint_riemann_sum(setup):
    model, images, male = setup
    unit, n = I.AgeUnit(model, "x"), 4
    mine = torch.zeros_like(images)
    for k in range(n):
        x = ((k + 0.5) / n * images).requires_grad_()
        unit(x, male).sum().backward()
        mine += x.grad / n
    mine *= images
    torch.testing.assert_close(I.attribute_ig(unit, images, male, n_steps=n), mine,
                               rtol=1e-4, atol=1e-6)


def test_ig_batched_equals_one_image_with_frozen_boxes(setup):
    model, images, male = setup
    boxes = I.selected_boxes(model, images, male)
    unit = I.AgeUnit(model, "asb")
    both = I.attribute_ig(unit, images, male, boxes, n_steps=3)
    one = I.attribute_ig(unit, images[1:], male[1:], boxes[1:], n_steps=3)
    torch.testing.assert_close(both[1:], one, rtol=1e-4, atol=1e-6)


def test_occlusion_equals_loop(setup):
    model, images, male = setup
    unit, w = I.AgeUnit(model, "x"), 32
    S = images.shape[-1]
    with torch.no_grad():
        f0 = unit(images, male)
        mine = torch.zeros_like(images)
        for y in range(0, S - w + 1, w):
            for x in range(0, S - w + 1, w):
                occ = images.clone()
                occ[..., y:y + w, x:x + w] = 0.0
                mine[..., y:y + w, x:x + w] = (f0 - unit(occ, male)).view(-1, 1, 1, 1)
    lib = I.attribute_occlusion(unit, images, male, window=w, stride=w)
    torch.testing.assert_close(lib, mine, rtol=1e-4, atol=1e-5)


def test_gradcam_shapes_and_part_frame(setup):
    model, images, male = setup
    boxes = I.selected_boxes(model, images, male)
    S = images.shape[-1]
    cam = I.attribute_gradcam(I.AgeUnit(model, "x"), images, male, stage=3, relu=False)
    assert cam.shape == (2, 1, S, S) and not cam.requires_grad
    part = I.attribute_gradcam(I.AgeUnit(model, "part", 0), images, male, boxes, stage=3,
                               relu=False)
    outside = ~I.boxes_mask(boxes[:, :1], S)
    assert (part[:, 0][outside] == 0).all()
    with pytest.raises(ValueError):
        I.attribute_gradcam(I.AgeUnit(model, "asb"), images, male, boxes)
    with pytest.raises(ValueError):
        I.attribute_gradcam(I.AgeUnit(model, "part"), images, male)


def test_paste_into_boxes_fills_the_box():
    maps = torch.ones(1, 1, 4, 4)
    box = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    out = I.paste_into_boxes(maps, box, 64)
    assert out.sum().item() == 20 * 40
    assert torch.equal(out[0, 0] > 0, I.boxes_mask(box[:, None], 64)[0])


def test_boxes_mask_and_mass_by_hand():
    boxes = [torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.zeros(0, 4)]
    mask = I.boxes_mask(boxes, 4)
    assert mask[0].sum() == 4 and mask[0, :2, :2].all() and mask[1].sum() == 0
    attr = torch.zeros(2, 1, 4, 4)
    attr[0, 0, 0, 0], attr[0, 0, 3, 3] = 3.0, -1.0
    attr[1, 0, 1, 1] = 1.0
    r = I.mass_in_boxes(attr, boxes)
    torch.testing.assert_close(r["mass"], torch.tensor([0.75, 0.0], dtype=torch.float64))
    torch.testing.assert_close(r["area"], torch.tensor([0.25, 0.0], dtype=torch.float64))
    pos = I.mass_in_boxes(attr, boxes, mode="positive")
    assert pos["mass"][0] == 1.0
    within = torch.zeros(2, 4, 4, dtype=torch.bool)
    within[:, :2, :] = True                          # only the top two rows count
    r = I.mass_in_boxes(attr, boxes, within=within)
    assert r["mass"][0] == 1.0 and r["area"][0] == 0.5
    assert math.isnan(I.mass_in_boxes(torch.zeros(1, 4, 4), boxes[:1])["mass"][0])


def test_map_boxes_back_follows_the_content():
    S = 64
    img = torch.zeros(1, 1, S, S)
    img[..., 10:20, 30:50] = 1.0                     # rows 10-19, columns 30-49
    for angle, scale in ((0.0, 1.5), (90.0, 1.0), (0.0, 0.8)):
        moved, theta = St.transform_images(img, angle, scale)
        ys, xs = torch.nonzero(moved[0, 0] > 0.5, as_tuple=True)
        found = torch.tensor([[[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]]).double()
        back = St.map_boxes_back(found, theta, S)[0, 0]
        torch.testing.assert_close(back, torch.tensor([30.0, 10.0, 50.0, 20.0]).double(),
                                   atol=1.5, rtol=0)


def test_invert_theta():
    th = St.affine_theta(17.0, 1.3, batch=2)
    full = torch.cat([th, torch.tensor([[[0.0, 0.0, 1.0]]]).expand(2, 1, 3)], 1)
    inv = torch.cat([St.invert_theta(th), torch.tensor([[[0.0, 0.0, 1.0]]]).expand(2, 1, 3)], 1)
    torch.testing.assert_close(full @ inv, torch.eye(3).expand(2, 3, 3), atol=1e-6, rtol=0)


def test_identity_transform_is_perfectly_stable(setup):
    model, images, male = setup
    unit = I.AgeUnit(model, "x")
    st = St.attribution_stability(lambda z: I.attribute_ig(unit, z, male, n_steps=2), images,
                                 pool=4)
    assert (st["spearman"] > 0.999).all() and (st["topq_iou"] == 1).all()
    bs = St.box_stability(model, images, male)
    assert (bs["top1_iou"] == 1).all() and (bs["match_iou"] == 1).all()
    assert (bs["match_shift"] == 0).all()


def test_rank_correlation_and_topq():
    a = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert St.rank_correlation(a, a ** 3) == pytest.approx(1.0)
    assert St.rank_correlation(a, -a) == pytest.approx(-1.0)
    # ties share their mean rank: [1, 1, 2] ranks as [1.5, 1.5, 3]
    tied = torch.tensor([1.0, 1.0, 2.0])
    expected = np.corrcoef([1.5, 1.5, 3.0], [1.0, 2.0, 3.0])[0, 1]
    assert St.rank_correlation(tied, torch.tensor([1.0, 2.0, 3.0])) == pytest.approx(expected)
    assert St.topq_iou(a, a, 0.5) == 1.0
    assert St.topq_iou(a, -a, 0.5) == 0.0


def test_stability_summary_of_the_identity(setup):
    model, images, male = setup
    unit = I.AgeUnit(model, "x")
    row = St.stability_summary(model, lambda z: I.attribute_ig(unit, z, male, n_steps=2),
                               images, male, pool=4)
    assert row["map rho"] > 0.999 and row["map top-q IoU"] == 1
    assert row["top-K IoU"] == 1 and row["shift px"] == 0
    assert row["|dA_asb| months"] == 0
    contrast = St.stability_summary(model, lambda z: I.attribute_ig(unit, z, male, n_steps=2),
                                    images, male, pool=4, contrast=1.2)
    assert contrast["|dA_asb| months"] > 0
