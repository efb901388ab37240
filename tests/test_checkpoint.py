"""Checkpoint I/O: atomic writes, weights_only loads, RNG state round trips."""
import random

import numpy as np
import pytest
import torch

from arcnn_lib.engine import checkpoint as C


def _ckpt(**extra):
    return {"format": C.FORMAT, "model": {"w": torch.arange(3.0)}, "epoch": 2,
            "config": {"name": "x", "sizes": [1, 2]}, **extra}


def test_save_atomic_roundtrip_weights_only(tmp_path):
    path = C.save_atomic(_ckpt(rng=C.rng_state()), tmp_path / "sub" / "last.pt")
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary left over
    back = C.load(path)  # uses weights_only=True
    assert torch.equal(back["model"]["w"], torch.arange(3.0)) and back["epoch"] == 2
    # the file itself loads with the strict loader too
    torch.load(path, weights_only=True)


def test_save_atomic_keeps_old_file_when_writing_fails(tmp_path):
    path = C.save_atomic(_ckpt(), tmp_path / "last.pt")

    class Bad:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        C.save_atomic({"format": C.FORMAT, "bad": Bad()}, path)
    assert C.load(path)["epoch"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        C.load(tmp_path / "nothere.pt")
    torch.save({"a": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an AR-CNN checkpoint"):
        C.load(tmp_path / "other.pt")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_checkpoint_gets_one_clear_error(tmp_path, damage):
    good = tmp_path / "good.pt"
    C.save_atomic({"format": C.FORMAT, "model": {"w": torch.arange(1000.0)}}, good)
    data = good.read_bytes()
    bad = tmp_path / "last.pt"
    bad.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"not a checkpoint" * 8,
                     "empty": b""}[damage])
    with pytest.raises(ValueError, match="last.pt.*corrupt or truncated") as err:
        C.load(bad)
    assert "weights_only" not in str(err.value)


def test_rng_state_roundtrip():
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    random.gauss(0, 1)  # leaves a cached gaussian in Python's state
    state = C.rng_state()
    assert all(isinstance(v, torch.Tensor) for k, v in state.items() if k != "cuda")

    def draw():
        return (random.random(), random.gauss(0, 1), np.random.randn(3).tolist(),
                torch.rand(4).tolist())

    first = draw()
    draw()
    C.set_rng_state(state)
    assert draw() == first


def test_to_plain_converts_and_refuses():
    from pathlib import Path
    out = C.to_plain({"p": Path("a/b"), "t": (1, 2), "n": np.float32(1.5), "s": None})
    assert out == {"p": "a/b", "t": [1, 2], "n": 1.5, "s": None}
    with pytest.raises(TypeError):
        C.to_plain({"x": object()})
