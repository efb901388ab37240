"""The real rsna100 folder (beside the repository): read and cached; skipped when absent."""
import numpy as np
import pytest

from arcnn_lib.data import RSNA100, ImageCache, build_cache, make_split, read_index

pytestmark = pytest.mark.skipif(not (RSNA100 / "boneage-training-dataset.csv").is_file(),
                                reason=f"rsna100 not found at {RSNA100}")


def test_rsna100_reads_and_caches(tmp_path):
    index = read_index(RSNA100)
    assert len(index) == 11611 and index.attrs["layout"] == "csv-folder"
    assert index["boneage"].between(0, 240).all() and index["id"].is_unique
    sample = index.sample(64, random_state=0).reset_index(drop=True)
    cache = ImageCache(build_cache(sample, tmp_path / "c", 64, progress=False))
    assert cache.images.shape == (64, 64, 64) and cache.images[:].mean() > 10
    split = make_split(index, seed=0)
    assert np.isclose((split["split"] == "val").mean(), 0.1, atol=0.01)
