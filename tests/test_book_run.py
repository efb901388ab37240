"""book_run: a chapter's model is trained once and reused only by the same settings and
library (arcnn_lib.book.notebook)."""
import json

import torch

import arcnn_lib.book.notebook as N
from arcnn_lib.config import ARCNNConfig

from engine_fixtures import TINY_N, TINY_SEED


def test_reused_only_with_the_same_settings_and_library(engine_cache, monkeypatch):
    monkeypatch.setenv("ARCNN_CACHE", str(engine_cache))
    env = N.BookEnv(profile="smoke", config=ARCNNConfig.smoke(), data="phantom",
                    device=torch.device("cpu"), hardware="CPU", rsna100=None, on_colab=False)
    tiny = dict(phantom_n=TINY_N, phantom_seed=TINY_SEED, epochs=1, batch_size=8,
                progress=False, num_threads=2)
    first = N.book_run(env, "tiny", **tiny)
    assert not first.reused
    assert N.book_run(env, "tiny", **tiny).reused
    assert not N.book_run(env, "tiny", **{**tiny, "seed": 1}).reused    # settings changed
    assert N.book_run(env, "tiny", **{**tiny, "seed": 1}).reused
    # the run as another version of the library would have left it: its stamp names that
    # version's fingerprint, not this one's
    stamp = N.book_runs_dir() / "tiny" / "book_run.json"
    key = json.loads(stamp.read_text())
    assert key["library"] == N.library_fingerprint()
    stamp.write_text(json.dumps({**key, "library": "another-version"}))
    assert not N.book_run(env, "tiny", **{**tiny, "seed": 1}).reused    # library changed
    assert json.loads(stamp.read_text())["library"] == N.library_fingerprint()
