"""ARCNN end to end: shapes, Eq. 1, inputs, determinism, the baseline (arcnn_lib.model)."""
import pytest
import torch

from arcnn_lib.model.anchors import generate_anchors
from arcnn_lib.config import ARCNNConfig
from arcnn_lib.model.crop import crop_parts
from arcnn_lib.model import ARCNN, assemble_age, build_model


@pytest.fixture(scope="module")
def smoke_model():
    torch.manual_seed(0)
    return ARCNN(ARCNNConfig.smoke()).eval()


def _images(n, size, seed=0):
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed))


def test_output_shapes(smoke_model):
    cfg = smoke_model.config
    out = smoke_model(_images(3, cfg.image_size))
    M, A = cfg.num_parts, generate_anchors(cfg).shape[0]
    for name in ("age", "age_x", "age_concat"):
        assert getattr(out, name).shape == (3,)
    assert out.age_parts.shape == out.part_scores.shape == (3, M)
    assert out.part_boxes.shape == (3, M, 4)
    assert out.anchor_scores.shape == (3, A)


def test_eq1_assembles_concat_whole_and_top_k_parts(smoke_model):
    out = smoke_model(_images(2, smoke_model.config.image_size))
    K = smoke_model.config.num_concat
    expected = (out.age_concat + out.age_x + out.age_parts[:, :K].sum(1)) / (K + 2)
    torch.testing.assert_close(out.age, expected)
    parts = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    assert assemble_age(torch.tensor([4.0]), torch.tensor([5.0]), parts, 3).item() == 3.0


def test_parts_are_the_top_scored_anchors_after_nms(smoke_model):
    out = smoke_model(_images(2, smoke_model.config.image_size))
    # part scores are the selected anchors' scores, best first
    assert (out.part_scores[:, :1] == out.anchor_scores.max(1, keepdim=True).values).all()
    anchors = generate_anchors(smoke_model.config)
    for box in out.part_boxes.reshape(-1, 4):
        assert (anchors == box).all(1).any()


def test_uint8_grey_and_rgb_inputs_agree(smoke_model):
    size = smoke_model.config.image_size
    u8 = (torch.rand(2, 1, size, size) * 255).to(torch.uint8)
    a = smoke_model(u8).age
    b = smoke_model(u8.float() / 255).age
    c = smoke_model(u8.float().div(255).expand(2, 3, size, size)).age
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


def test_wrong_input_size_is_refused(smoke_model):
    with pytest.raises(ValueError, match="128 x 128"):
        smoke_model(torch.rand(1, 1, 100, 100))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        smoke_model(torch.rand(1, 2, 128, 128))


def test_deterministic_under_a_seed():
    cfg = ARCNNConfig.smoke()
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = ARCNN(cfg)
        out = model(_images(2, cfg.image_size, seed=5))
        outs.append(torch.cat([out.age, out.part_boxes.flatten(), out.anchor_scores.flatten()]))
    assert torch.equal(outs[0], outs[1])


@pytest.mark.parametrize("k", [0, 1, 6])
def test_any_k_up_to_m(k):
    cfg = ARCNNConfig.smoke(num_concat=k)
    out = ARCNN(cfg)(_images(2, cfg.image_size))
    assert out.age.shape == (2,) and torch.isfinite(out.age).all()


def test_k_above_m_is_refused():
    with pytest.raises(ValueError, match="K <= M"):
        ARCNNConfig.smoke(num_concat=7)


def test_sex_input_extension():
    cfg = ARCNNConfig.smoke(use_sex=True)
    model = ARCNN(cfg)
    images = _images(2, cfg.image_size)
    with pytest.raises(ValueError, match="use_sex"):
        model(images)
    male = torch.tensor([True, False])
    assert model(images, male).age.shape == (2,)


def test_baseline_uses_only_the_whole_image():
    cfg = ARCNNConfig.smoke()
    model = build_model(cfg, "baseline")
    out = model(_images(2, cfg.image_size))
    assert out.age.shape == (2,) and out.part_boxes is None
    terms = model.loss(out, torch.tensor([10.0, 20.0]))
    assert terms.att.item() == 0.0 and terms.total.requires_grad
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model(cfg, "resnet")


def test_crops_show_the_input_inside_the_boxes(smoke_model):
    cfg = smoke_model.config
    images = _images(1, cfg.image_size)
    out = smoke_model(images)
    parts = crop_parts(images, out.part_boxes, cfg.part_size)
    assert parts.shape == (cfg.num_parts, 1, cfg.part_size, cfg.part_size)


def test_given_boxes_replace_the_navigators_choice(smoke_model):
    cfg = smoke_model.config
    x = _images(2, cfg.image_size, seed=3)
    with torch.no_grad():
        live = smoke_model(x)
        same = smoke_model(x, boxes=live.part_boxes)
        moved = smoke_model(x, boxes=live.part_boxes.flip(1))     # same boxes, other order
    torch.testing.assert_close(same.age, live.age)
    assert same.part_scores is None and torch.equal(same.part_boxes, live.part_boxes)
    torch.testing.assert_close(moved.age_parts, live.age_parts.flip(1))
    torch.testing.assert_close(moved.age_x, live.age_x)


def test_separate_part_extractor_keeps_the_part_terms_off_the_whole_image_features():
    torch.manual_seed(0)
    shared = ARCNN(ARCNNConfig.smoke())
    torch.manual_seed(0)
    own = ARCNN(ARCNNConfig.smoke(separate_part_extractor=True))
    assert shared.part_extractor is None and own.part_extractor is not None
    n_ext = sum(p.numel() for p in own.extractor.parameters())
    assert (sum(p.numel() for p in own.parameters())
            == sum(p.numel() for p in shared.parameters()) + n_ext)
    x = torch.rand(2, 1, 128, 128)
    for model, reaches in ((shared, True), (own, False)):
        out = model(x)
        model.zero_grad()
        out.age_parts.sum().backward()          # the part units alone
        grads = [p.grad for p in model.extractor.parameters() if p.grad is not None]
        assert bool(grads and any(g.abs().sum() > 0 for g in grads)) == reaches


def test_navigator_on_part_extractor_scores_from_the_parts_extractor():
    torch.manual_seed(0)
    model = ARCNN(ARCNNConfig.smoke(separate_part_extractor=True,
                                    navigator_on_part_extractor=True)).eval()
    x = torch.rand(2, 1, 128, 128)
    with torch.no_grad():
        base = model(x).anchor_scores
        for p in model.extractor.parameters():      # the whole-image extractor: no effect
            p.add_(0.5)
        torch.testing.assert_close(model(x).anchor_scores, base)
        for p in model.part_extractor.parameters():  # the parts' extractor: the scores move
            p.add_(0.5)
        assert not torch.allclose(model(x).anchor_scores, base)
    with pytest.raises(ValueError, match="needs separate_part_extractor"):
        ARCNNConfig.smoke(navigator_on_part_extractor=True)
    from arcnn_lib.engine.cli import build_parser
    from arcnn_lib.engine.config import TrainConfig
    ns = build_parser().parse_args(["--data", "phantom", "--out", "x",
                                    "--separate-part-extractor",
                                    "--navigator-on-part-extractor"])
    assert ns.navigator_on_part_extractor and not TrainConfig().navigator_on_part_extractor
    assert TrainConfig(separate_part_extractor=True, navigator_on_part_extractor=True
                       ).model_config().navigator_on_part_extractor


@pytest.mark.parametrize("size, stage", [(64, 2), (128, 3)])
def test_extractor_returns_the_map_of_the_stage_the_anchors_need(size, stage):
    from arcnn_lib.config import scaled_geometry
    from arcnn_lib.evaluation.interpret import extractor_layer
    cfg = ARCNNConfig.smoke(**scaled_geometry(size))
    model = ARCNN(cfg).eval()
    seen = {}
    layer = extractor_layer(model, stage)
    hook = layer.register_forward_hook(lambda m, i, o: seen.setdefault("map", o))
    with torch.no_grad():
        _, fmap = model.extractor(torch.randn(2, 1, size, size))
    hook.remove()
    stride = cfg.anchor_strides[0]
    assert model.extractor.fmap_stage == stage
    assert fmap.shape == (2, model.extractor.fmap_channels, size // stride, size // stride)
    assert torch.equal(fmap, seen["map"])   # the very module Grad-CAM hooks
