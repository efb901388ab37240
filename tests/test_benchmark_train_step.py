"""The train-step benchmark runs on the CPU, and its NTS-style reference is the same model.

The benchmark script lives outside the package (``benchmarks/train_step.py``) and is loaded
from its file. The faithfulness checks run ``ARCNN.forward`` and the reference's forward on
the same weights and the same input in fp32:

* with the reference's own crops (whole-pixel slices, ``align_corners=True``) the anchor
  scores, the selected part boxes (exactly), the part scores and A_X agree;
* with the library's ``roi_align`` crop substituted into the reference's loop, every age and
  the loss agree too -- so the only difference left is the crop interpolation;
* both cut the parts from the grey image, black outside it, and normalise them afterwards
  (checked with anchors large enough that selected parts reach past the border);
* in both the ranking loss reaches the navigator only (its input is detached, as in NTS-Net).
"""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from arcnn_lib.model.anchors import generate_anchors
from arcnn_lib.model.attention import select_parts
from arcnn_lib.config import ARCNNConfig
from arcnn_lib.model.losses import ranking_hinge_loss
from arcnn_lib.model import ARCNN, normalise

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train_step.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_train_step", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_main_runs_on_cpu_and_writes_json(bench, tmp_path):
    out = tmp_path / "train_step.json"
    result = bench.main(["--device", "cpu", "--profile", "smoke", "--batch-size", "2",
                         "--steps", "1", "--warmup", "1", "--json", str(out)])
    data = json.loads(out.read_text())
    assert data == json.loads(json.dumps(result))
    for key in ("device", "torch", "config", "batch_size", "steps", "warmup", "samples_per_s",
                "ratios", "targets", "pass", "memory", "peak_memory_gib_batch16"):
        assert key in data, key
    assert data["batch_size"] == 2 and data["steps"] == 1 and data["profile"] == "smoke"
    assert data["config"]["num_parts"] == 6 and data["config"]["num_concat"] == 3
    for v in "abc":
        assert data["samples_per_s"][v] > 0
        assert data["variants"][v]["loss_finite"]
    assert data["ratios"]["a/b"] > 0 and data["ratios"]["a/c"] > 0
    assert data["targets"] == {"a/b": 2.5, "a/c": 0.95, "a_compiled/b": 3.5,
                               "peak_memory_gib": 8.0, "memory_batch": 16}
    assert isinstance(data["pass"]["a/b"], bool) and isinstance(data["pass"]["a/c"], bool)
    assert data["pass"]["a_compiled/b"] is None      # not compiled in this run
    # no GPU memory on the CPU: null, not a number
    assert data["memory"]["peak_gib"] is None and data["peak_memory_gib_batch16"] is None
    assert data["pass"]["memory"] is None


def test_only_subset_leaves_missing_ratios_null(bench):
    result = bench.main(["--device", "cpu", "--profile", "smoke", "--batch-size", "1",
                         "--steps", "1", "--warmup", "0", "--only", "c"])
    assert set(result["samples_per_s"]) == {"c"}
    assert result["ratios"]["a/b"] is None and result["pass"]["a/c"] is None


def _model_and_input(seed=0, batch=3, cfg=None, low=0):
    cfg = ARCNNConfig.smoke() if cfg is None else cfg
    torch.manual_seed(seed)
    model = ARCNN(cfg).train()
    g = torch.Generator().manual_seed(seed + 1)
    images = torch.randint(low, 256, (batch, 1, cfg.image_size, cfg.image_size), generator=g,
                           dtype=torch.uint8)
    ages = torch.rand(batch, generator=g) * 228.0
    return model, images, ages


def test_reference_selects_the_same_parts(bench):
    model, images, _ = _model_and_input()
    with torch.no_grad():
        out_a = model(images)
        out_b = bench.NTSStyleStep(model, crop="nts").forward(images)
    torch.testing.assert_close(out_b.anchor_scores, out_a.anchor_scores, rtol=0, atol=0)
    assert torch.equal(out_b.part_boxes, out_a.part_boxes)
    torch.testing.assert_close(out_b.part_scores, out_a.part_scores, rtol=0, atol=0)
    torch.testing.assert_close(out_b.age_x, out_a.age_x, rtol=0, atol=1e-4)
    # part ages differ only through the crop's interpolation: same scale, finite
    assert torch.isfinite(out_b.age_parts).all() and out_b.age_parts.shape == (3, 6)


def test_reference_with_library_crop_is_the_same_function(bench):
    model, images, ages = _model_and_input(seed=3)
    with torch.no_grad():
        out_a = model(images)
        ref = bench.NTSStyleStep(model, crop="roi_align")
        out_b = ref.forward(images)
        loss_a, loss_b = model.loss(out_a, ages).total, ref.loss(out_b, ages)
    assert torch.equal(out_b.part_boxes, out_a.part_boxes)
    for name in ("age", "age_x", "age_concat", "age_parts", "part_scores"):
        torch.testing.assert_close(getattr(out_b, name), getattr(out_a, name),
                                   rtol=1e-5, atol=1e-3, msg=name)
    torch.testing.assert_close(loss_b, loss_a, rtol=1e-5, atol=1e-5)


def _with_parts(model, forward):
    """``forward()``'s output and the parts the extractor read (its second call's input)."""
    seen = []
    hook = model.extractor.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].detach().clone()))
    try:
        out = forward()
    finally:
        hook.remove()
    assert len(seen) == 2
    return out, seen[1]


@pytest.mark.parametrize("crop", ["roi_align", "nts"])
def test_reference_pads_parts_black_like_the_library(bench, crop):
    """Parts are cut from the grey image and normalised afterwards: outside the image they
    are black (normalise(0)), not the mean grey (a zero of the normalised input)."""
    cfg = ARCNNConfig.smoke().replace(anchor_scales=(28.0, 54.0, 110.0))  # half reach out
    model, images, ages = _model_and_input(seed=2, cfg=cfg, low=1)  # no black in the image
    S = cfg.image_size
    black = normalise(torch.zeros(()), cfg)
    ref = bench.NTSStyleStep(model, crop=crop)
    with torch.no_grad():
        out_a, parts_a = _with_parts(model, lambda: model(images))
        out_b, parts_b = _with_parts(model, lambda: ref.forward(images))
    boxes = out_a.part_boxes
    assert ((boxes < -2) | (boxes > S + 2)).any(), "no selected part reaches past the border"
    assert torch.equal(out_b.part_boxes, boxes)
    assert torch.isclose(parts_a, black).any() and parts_a.min() >= black - 1e-6
    assert torch.isclose(parts_b, black).any() and parts_b.min() >= black - 1e-6
    if crop == "roi_align":
        torch.testing.assert_close(parts_b, parts_a, rtol=0, atol=1e-6)
        for name in ("age", "age_concat", "age_parts"):
            torch.testing.assert_close(getattr(out_b, name), getattr(out_a, name),
                                       rtol=1e-5, atol=1e-3, msg=name)
        torch.testing.assert_close(ref.loss(out_b, ages), model.loss(out_a, ages).total,
                                   rtol=1e-5, atol=1e-5)


def test_ranking_loss_reaches_only_the_navigator(bench):
    """The navigator reads a detached feature map in (a) and (b) alike: L_att moves the
    navigator and nothing else."""
    model, images, ages = _model_and_input(seed=4, batch=2)
    ref = bench.NTSStyleStep(model)
    for forward in (model, ref.forward):
        model.zero_grad(set_to_none=True)
        out = forward(images)
        ranking_hinge_loss(out.part_scores, (out.age_parts - ages[:, None]).abs()).backward()
        reached = [n for n, p in model.named_parameters()
                   if p.grad is not None and p.grad.abs().sum() > 0]
        assert any(n.startswith("navigator.") for n in reached)
        assert all(n.startswith("navigator.") for n in reached), reached


def test_reference_step_trains_the_same_parameters(bench):
    """One reference step changes every parameter ARCNN's own step changes."""
    model, images, ages = _model_and_input(seed=5, batch=2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    ref = bench.NTSStyleStep(model)
    ref.make_optimizers()
    covered = {id(p) for opt in ref.optimizers for g in opt.param_groups for p in g["params"]}
    assert covered == {id(p) for p in model.parameters()}
    loss = ref.step(images, ages)
    assert torch.isfinite(loss)
    moved = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert any(n.startswith("navigator.") for n in moved)
    assert any(n.startswith("heads.fc_concat") for n in moved)
    assert any(n.startswith("extractor.") for n in moved)


@pytest.mark.parametrize("profile", ["paper", "smoke"])
def test_cpu_nms_equals_select_parts(bench, profile):
    """Per-image NumPy NMS == the library's batched NMS, on many random score maps,
    including heavy ties (scores rounded to bf16, as under autocast)."""
    cfg = ARCNNConfig.from_profile(profile)
    anchors = generate_anchors(cfg)
    g = torch.Generator().manual_seed(7)
    scores = torch.randn(16, anchors.shape[0], generator=g)
    tied = scores.to(torch.bfloat16).float()
    for s in (scores, tied):
        expected = select_parts(s, anchors, cfg.num_parts, cfg.nms_iou).numpy()
        got = np.stack([bench.hard_nms_numpy(row, anchors.numpy(), cfg.num_parts, cfg.nms_iou)
                        for row in s.numpy()])
        np.testing.assert_array_equal(got, expected)


def test_cpu_nms_fills_missing_slots(bench):
    """Fewer survivors than M: the best unselected anchors fill the slots, as in the library."""
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [2, 0, 12, 10], [50, 50, 60, 60]],
                         dtype=torch.float32)
    scores = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
    expected = select_parts(scores, boxes, 4, 0.25).numpy()[0]
    got = bench.hard_nms_numpy(scores[0].numpy(), boxes.numpy(), 4, 0.25)
    np.testing.assert_array_equal(got, expected)
