"""PNG decoding of every pixel kind, resize_pad, and BoneAgeDataset."""
import numpy as np
import pytest
import torch

from arcnn_lib.data import BoneAgeDataset, load_image, read_index, resize_pad
from data_fixtures import hand_like, make_kaggle, write_png


@pytest.mark.parametrize("mode", ["L", "I;16", "P", "RGB"])
def test_every_png_kind_decodes_to_the_same_grey(tmp_path, mode):
    img = hand_like(20, 12)
    got = load_image(write_png(tmp_path / f"x_{mode[0]}.png", img, mode))
    assert got.dtype == np.uint8 and got.shape == (20, 12)
    if mode == "I;16":  # 12-bit data in 16 bits: stretched by its own range
        ref = np.rint((img.astype(float) - img.min()) * 255 / (img.max() - img.min()))
        np.testing.assert_array_equal(got, ref.astype(np.uint8))
    else:
        assert np.abs(got.astype(int) - img).max() <= 1


def test_missing_and_corrupt_images_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_image(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ValueError, match="bad.png"):
        load_image(bad)
    good = write_png(tmp_path / "trunc.png", hand_like(64, 64))
    good.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(ValueError, match="trunc.png"):
        load_image(good)


def test_resize_pad_keeps_aspect_and_centres():
    img = np.full((40, 20), 200, np.uint8)
    out = resize_pad(img, 16)
    assert out.shape == (16, 16) and out.dtype == np.uint8
    cols = np.flatnonzero(out.max(0))
    assert (cols.min(), cols.max()) == (4, 11)  # 8 columns wide, centred
    assert out[:, :4].max() == 0 and out[:, 12:].max() == 0
    wide = resize_pad(np.full((10, 30), 9, np.uint8), 30)
    assert wide[10:20].min() == 9 and wide[:10].max() == 0
    with pytest.raises(ValueError, match="uint8"):
        resize_pad(np.zeros((4, 4), np.float32), 8)


def test_dataset_items(tmp_path):
    index = read_index(make_kaggle(tmp_path))
    ds = BoneAgeDataset(index, 32)
    item = ds[0]
    assert item["image"].shape == (1, 32, 32) and item["image"].dtype == torch.uint8
    assert item["age"].dtype == torch.float32 and item["age"].item() == 12.0
    assert item["male"].dtype == torch.bool and item["male"].item() is True
    assert item["id"] == "1377"
    assert torch.isnan(ds[len(ds) - 1]["age"])  # unlabelled Kaggle test row


def test_dataset_bad_image_raises_or_is_skipped_with_one_warning(tmp_path):
    index = read_index(make_kaggle(tmp_path, with_test=False))
    (tmp_path / "boneage-training-dataset" / "1378.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="1378.png"):
        BoneAgeDataset(index, 16)[1]
    with pytest.warns(UserWarning, match=r"(?s)skipping 1 bad image.*1378\.png") as rec:
        ds = BoneAgeDataset(index, 16, skip_bad=True)
    assert len(rec) == 1 and len(ds) == 5 and "1378" not in ds.index["id"].tolist()
    with pytest.raises(ValueError, match="empty"):
        BoneAgeDataset(index.iloc[:0], 16)
