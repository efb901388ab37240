"""ARCNNConfig: paper defaults, profiles, validation, the environment variables."""
import pytest

from arcnn_lib.config import (PROFILES, ARCNNConfig, data_from_env, profile_from_env,
                              scaled_geometry)


def test_paper_defaults():
    c = ARCNNConfig()
    assert (c.image_size, c.part_size, c.num_parts, c.num_concat) == (448, 224, 6, 3)
    assert c.anchor_scales == (48.0, 96.0, 192.0) and c.backbone == "resnet50"
    assert c.anchor_ratios == pytest.approx((1.0, 1.5, 2 / 3))
    assert ARCNNConfig.paper() == c


@pytest.mark.parametrize("name", PROFILES)
def test_profiles_keep_the_structure(name):
    c = ARCNNConfig.from_profile(name)
    assert (c.num_parts, c.num_concat) == (6, 3)
    ratio = c.image_size / 448
    assert c.part_size == round(224 * ratio)
    assert c.anchor_scales == tuple(float(round(s * ratio)) for s in (48, 96, 192))


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ValueError, match="smoke, demo, gpu, paper"):
        ARCNNConfig.from_profile("fast")


@pytest.mark.parametrize("bad, message", [
    (dict(num_concat=7), "K <= M"),
    (dict(backbone="vgg"), "backbone='vgg' is unknown"),
    (dict(anchor_strides=(32, 48, 128)), "double"),
    (dict(anchor_strides=(4, 8, 16)), "8, 16 or 32"),
    (dict(nms_iou=0.0), "nms_iou"),
    (dict(anchor_scales=(48.0,)), "one entry per level"),
    (dict(backbone="resnet_tiny", pretrained=True), "no pretrained weights"),
])
def test_invalid_fields_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        ARCNNConfig(**bad)


def test_dict_round_trip():
    c = ARCNNConfig.smoke(num_concat=2, use_sex=True)
    assert ARCNNConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="unknown ARCNNConfig fields"):
        ARCNNConfig.from_dict({**c.to_dict(), "colour": 1})


def test_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("ARCNN_PROFILE", raising=False)
    monkeypatch.delenv("ARCNN_DATA", raising=False)
    assert profile_from_env() == "smoke" and data_from_env() == "phantom"
    monkeypatch.setenv("ARCNN_PROFILE", "paper")
    monkeypatch.setenv("ARCNN_DATA", str(tmp_path))
    assert profile_from_env() == "paper" and data_from_env() == str(tmp_path)
    monkeypatch.setenv("ARCNN_PROFILE", "huge")
    with pytest.raises(ValueError, match="ARCNN_PROFILE='huge'"):
        profile_from_env()
    monkeypatch.setenv("ARCNN_DATA", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="missing"):
        data_from_env()


def test_one_check_names_a_bad_profile_wherever_it_comes_from(monkeypatch):
    from arcnn_lib.config import ARCNNConfig, profile_from_env
    from arcnn_lib.engine.config import TrainConfig
    for make in (lambda: ARCNNConfig.from_profile("big"),
                 lambda: TrainConfig.for_profile("big", data="phantom"),
                 lambda: TrainConfig(profile="big", data="phantom").resolved()):
        with pytest.raises(ValueError, match=r"profile='big' is unknown; known profiles: smoke"):
            make()
    monkeypatch.setenv("ARCNN_PROFILE", "big")
    with pytest.raises(ValueError, match=r"ARCNN_PROFILE='big' is unknown"):
        profile_from_env()


def test_progress_bars_follow_the_request_unless_the_build_turns_them_off(monkeypatch):
    from arcnn_lib.config import progress_enabled
    monkeypatch.delenv("ARCNN_PROGRESS", raising=False)
    assert progress_enabled(True) and not progress_enabled(False)
    monkeypatch.setenv("ARCNN_PROGRESS", "0")
    assert not progress_enabled(True)


@pytest.mark.parametrize("size, first", [(448, 32), (224, 16), (128, 16), (64, 8)])
def test_scaled_geometry_keeps_the_anchors_tiling_the_image(size, first):
    # the coarsest stage whose stride is at most 1.2 smallest anchor sides (paper: 32 / 48)
    g = scaled_geometry(size)
    assert g["anchor_strides"] == (first, 2 * first, 4 * first)
    assert g["anchor_strides"][0] <= 1.2 * g["anchor_scales"][0]
    if first < 32:   # the next coarser stage would leave gaps between the finest anchors
        assert 2 * first > 1.2 * g["anchor_scales"][0]
    ARCNNConfig.smoke(**g)   # a valid configuration
