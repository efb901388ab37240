"""Fixtures shared by the tests: a tiny phantom and its cache in temporary folders.

pytest finds them here by itself; test modules name them as arguments and import nothing.
Plain helpers that are not fixtures live in ``data_fixtures`` (data folders in each layout)
and ``engine_fixtures`` (the tiny phantom's size and seed).
"""
import pytest

from engine_fixtures import TINY_N, TINY_SEED


@pytest.fixture(scope="session")
def engine_cache(tmp_path_factory):
    """A cache folder holding the tiny phantom, already rendered and cached at the smoke
    profile's 128 px, so that every test only opens it."""
    from arcnn_lib.config import ARCNNConfig
    from arcnn_lib.data.cache import get_cache
    from arcnn_lib.data.phantom import phantom_folder

    cache = tmp_path_factory.mktemp("engine_cache")
    root = phantom_folder(n=TINY_N, seed=TINY_SEED, cache_dir=cache, progress=False)
    get_cache(root, ARCNNConfig.smoke().image_size, cache_dir=cache, progress=False)
    return cache


@pytest.fixture
def tiny(engine_cache, tmp_path):
    """Keyword arguments for a tiny smoke run on the tiny phantom (1 epoch, batch 8)."""
    return dict(data="phantom", profile="smoke", phantom_n=TINY_N, phantom_seed=TINY_SEED,
                cache_dir=str(engine_cache), epochs=1, batch_size=8, progress=False,
                num_threads=2, out=str(tmp_path / "run"))


@pytest.fixture(scope="session")
def phantom48(tmp_path_factory):
    """A 48-image phantom folder at 128 px, for the commands that take a data folder."""
    from arcnn_lib.data.phantom import make_phantom
    root = tmp_path_factory.mktemp("phantom48")
    make_phantom(root, n=48, seed=3, size=128, progress=False)
    return root
