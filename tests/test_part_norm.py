"""Separate BatchNorm statistics for whole images and parts (arcnn_lib.model.part_norm)."""
import copy

import pytest
import torch
from torch import nn

from arcnn_lib.config import ARCNNConfig
from arcnn_lib.model import ARCNN
from arcnn_lib.model.part_norm import PartAwareBatchNorm2d, convert_part_norm, use_stream
from arcnn_lib.model.recognition import FeatureExtractor


def _x(n, size, seed, shift=0.0):
    return torch.randn(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) + shift


def _extractors():
    torch.manual_seed(0)
    shared = FeatureExtractor(ARCNNConfig.smoke(separate_part_stats=False))
    split = FeatureExtractor(ARCNNConfig.smoke())
    split.load_state_dict(shared.state_dict(), strict=False)
    return shared, split


def test_only_the_split_extractor_has_part_layers():
    shared, split = _extractors()
    assert not any(isinstance(m, PartAwareBatchNorm2d) for m in shared.modules())
    bns = [m for m in split.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(isinstance(m, PartAwareBatchNorm2d) for m in bns)


def test_training_forward_is_unchanged():
    """In training mode both streams normalise with batch statistics, as BatchNorm2d does."""
    shared, split = _extractors()
    shared.train(), split.train()
    for parts, x in ((False, _x(4, 128, 1)), (True, _x(8, 64, 2, shift=1.0))):
        a = shared(x)
        b = split(x, parts=parts)
        for u, v in zip(a, b):
            torch.testing.assert_close(u, v)


def test_each_stream_tracks_only_its_own_batches():
    _, split = _extractors()
    image_only, parts_only = copy.deepcopy(split), copy.deepcopy(split)
    images, parts = _x(4, 128, 1), _x(8, 64, 2, shift=1.0)
    for m in (split, image_only, parts_only):
        m.train()
    split(images), split(parts, parts=True)
    image_only(images)
    parts_only(parts, parts=True)
    split.eval(), image_only.eval(), parts_only.eval()
    with torch.no_grad():
        torch.testing.assert_close(split(images)[0], image_only(images)[0])
        torch.testing.assert_close(split(parts, parts=True)[0], parts_only(parts, parts=True)[0])
        # the two sets really differ: reading parts with the image statistics changes features
        assert not torch.allclose(split(parts)[0], split(parts, parts=True)[0])


def test_shared_statistics_mix_both_streams():
    """The mismatch being fixed: one set of running statistics absorbs both passes."""
    shared, _ = _extractors()
    reference = copy.deepcopy(shared)
    images, parts = _x(4, 128, 1), _x(8, 64, 2, shift=1.0)
    shared.train(), reference.train()
    shared(images), shared(parts)
    reference(images)
    shared.eval(), reference.eval()
    with torch.no_grad():
        assert not torch.allclose(shared(images)[0], reference(images)[0])


def test_converted_layer_equals_batch_norm_and_copies_statistics():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(5, momentum=None)
    bn.train()
    bn(torch.randn(6, 5, 3, 3) * 2 + 1)
    new = PartAwareBatchNorm2d.from_batch_norm(bn)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(new, name), getattr(bn, name))
        torch.testing.assert_close(getattr(new, "parts_" + name), getattr(bn, name))
    x = torch.randn(6, 5, 3, 3)
    ref = copy.deepcopy(bn)
    new.train(), ref.train()
    with use_stream(new, "parts"):
        torch.testing.assert_close(new(x), ref(x))
    # momentum=None: the parts statistics follow BatchNorm2d's cumulative average
    torch.testing.assert_close(new.parts_running_mean, ref.running_mean)
    torch.testing.assert_close(new.parts_running_var, ref.running_var)
    assert new.stream == "image"


def test_state_dict_round_trip_and_bad_stream():
    torch.manual_seed(0)
    model = ARCNN(ARCNNConfig.smoke()).train()
    model(torch.rand(2, 1, 128, 128))
    state = model.state_dict()
    assert any(k.endswith("parts_running_mean") for k in state)
    again = ARCNN(ARCNNConfig.smoke())
    again.load_state_dict(state)
    model.eval(), again.eval()
    x = torch.rand(2, 1, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(model(x).age, again(x).age)
    with pytest.raises(ValueError, match="stream"):
        with use_stream(model, "patch"):
            pass
    layer = next(m for m in model.modules() if isinstance(m, PartAwareBatchNorm2d))
    layer.stream = "patch"
    with pytest.raises(ValueError, match="stream"):
        layer(torch.zeros(2, layer.num_features, 2, 2))


def test_convert_part_norm_reaches_nested_layers():
    net = nn.Sequential(nn.Conv2d(1, 2, 1), nn.Sequential(nn.BatchNorm2d(2)))
    convert_part_norm(net)
    assert isinstance(net[1][0], PartAwareBatchNorm2d)


def test_train_config_passes_the_choice_to_the_model():
    from arcnn_lib import TrainConfig
    assert TrainConfig().model_config().separate_part_stats
    assert not TrainConfig(separate_part_stats=False).model_config().separate_part_stats


def test_a_shared_statistics_checkpoint_loads_and_evaluates_as_before():
    """Checkpoints saved with plain BatchNorm layers (one set of statistics) still load."""
    torch.manual_seed(0)
    old = ARCNN(ARCNNConfig.smoke(separate_part_stats=False)).train()
    old(torch.rand(2, 1, 128, 128))
    new = ARCNN(ARCNNConfig.smoke())
    new.load_state_dict(old.state_dict())          # strict: nothing missing
    old.eval(), new.eval()
    x = torch.rand(2, 1, 128, 128)
    with torch.no_grad():
        a, b = old(x), new(x)
    torch.testing.assert_close(a.age, b.age)
    torch.testing.assert_close(a.age_parts, b.age_parts)
