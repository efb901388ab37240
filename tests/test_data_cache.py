"""The uint8 cache: contents, reuse, resume, bad images; the batch iterator over it."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from arcnn_lib.data import (ImageCache, batch_iterator, build_cache, get_cache, load_image,
                            read_index, resize_pad)
from arcnn_lib.data.batches import num_batches
from data_fixtures import make_csv_folder, make_kaggle


@pytest.fixture
def folder(tmp_path):
    rows = [dict(id=i, boneage=10 + i, male=i % 2 == 0) for i in range(1, 11)]
    return make_csv_folder(tmp_path / "data", rows)


def test_cache_rows_match_the_decoded_images(folder, tmp_path):
    index = read_index(folder)
    cache = ImageCache(build_cache(index, tmp_path / "c", 20, progress=False))
    assert cache.images.shape == (10, 20, 20) and cache.size == 20
    assert cache.index["id"].tolist() == index["id"].tolist()
    assert cache.index["boneage"].tolist() == index["boneage"].tolist()
    assert cache.index["male"].dtype == bool
    for i in (0, 7):
        np.testing.assert_array_equal(cache.images[i], resize_pad(load_image(index.path[i]), 20))


def test_get_cache_reuses_and_rebuilds_on_change(folder, tmp_path):
    c1 = get_cache(folder, 16, cache_dir=tmp_path / "cc", progress=False)
    mtime = (c1.dest / "meta.json").stat().st_mtime_ns
    c2 = get_cache(folder, 16, cache_dir=tmp_path / "cc", progress=False)
    assert c2.dest == c1.dest and (c2.dest / "meta.json").stat().st_mtime_ns == mtime
    csv = folder / "boneage-training-dataset.csv"
    csv.write_text(csv.read_text().replace("\n1,11,", "\n1,12,"))
    c3 = get_cache(folder, 16, cache_dir=tmp_path / "cc", progress=False)
    assert c3.dest != c1.dest and c3.index["boneage"][0] == 12.0


def test_build_resumes_after_an_interruption(folder, tmp_path):
    index = read_index(folder)
    (folder / "boneage-training-dataset" / "7.png").write_bytes(b"broken")
    with pytest.raises(ValueError, match="7.png"):
        build_cache(index, tmp_path / "c", 16, progress=False, chunk=3)
    state = json.loads((tmp_path / "c" / "progress.json").read_text())
    assert state["next"] == 6 and not (tmp_path / "c" / "meta.json").exists()
    kept = [Path(p) for p in index.path[:6]]  # the first two chunks, already written
    expected = [resize_pad(load_image(p), 16) for p in kept]
    for path in kept:  # garbled, same size and mtime (same fingerprint): undecodable, so
        st = path.stat()  # the resumed build succeeds only if it does not read them again
        path.write_bytes(b"\0" * st.st_size)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.warns(UserWarning, match=r"(?s)skipped 1 bad image.*7\.png"):
        build_cache(index, tmp_path / "c", 16, progress=False, chunk=3, skip_bad=True)
    cache = ImageCache(tmp_path / "c")
    assert len(cache) == 9 and "7" not in cache.index["id"].tolist()
    assert (tmp_path / "c" / "images.u8").stat().st_size == 9 * 16 * 16
    np.testing.assert_array_equal(cache.images[6], resize_pad(load_image(index.path[7]), 16))
    np.testing.assert_array_equal(cache.images[:6], np.stack(expected))


def test_unfinished_cache_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no finished cache"):
        ImageCache(tmp_path)


def test_unlabelled_rows_survive_the_cache(tmp_path):
    cache = get_cache(make_kaggle(tmp_path / "k"), 8, cache_dir=tmp_path / "c", progress=False)
    assert cache.index["split"].tolist()[-2:] == ["test", "test"]
    assert cache.index["boneage"].isna().sum() == 2


def test_batches_cover_rows_and_depend_only_on_seed_and_epoch(folder, tmp_path):
    cache = get_cache(folder, 16, cache_dir=tmp_path / "cc", progress=False)
    rows = np.arange(1, 10)
    batches = list(batch_iterator(cache, rows, 4, shuffle=True, seed=3, epoch=1))
    images, age, male, r = batches[0]
    assert images.shape == (4, 1, 16, 16) and images.dtype == torch.uint8
    assert age.dtype == torch.float32 and male.dtype == torch.bool and r.dtype == torch.int64
    assert torch.equal(images[:, 0], torch.from_numpy(cache.images[r.numpy()]))
    assert age.tolist() == cache.index["boneage"].to_numpy()[r.numpy()].tolist()
    got = torch.cat([b[3] for b in batches]).sort().values
    assert got.tolist() == rows.tolist() and len(batches) == num_batches(9, 4, False) == 3
    again = list(batch_iterator(cache, rows, 4, shuffle=True, seed=3, epoch=1, start_batch=1))
    assert all(torch.equal(a[3], b[3]) for a, b in zip(batches[1:], again))
    other = list(batch_iterator(cache, rows, 4, shuffle=True, seed=3, epoch=2))
    assert any(not torch.equal(a[3], b[3]) for a, b in zip(batches, other))
    assert len(list(batch_iterator(cache, rows, 4, drop_last=True))) == 2
    with pytest.raises(IndexError):
        next(batch_iterator(cache, [10], 4))
