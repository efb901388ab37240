"""Checkpoint files: atomic writes, ``weights_only`` loads, and RNG state as tensors.

A checkpoint is a plain ``dict`` that :func:`torch.load` can read with ``weights_only=True``:
only tensors, numbers, strings, ``None`` and lists / tuples / dicts of them. So the model
configuration is stored as ``ARCNNConfig.to_dict()``, the training configuration as a dict,
and every random number generator state as tensors (:func:`rng_state` /
:func:`set_rng_state`).

Layout of a training checkpoint (written by
:func:`arcnn_lib.engine.run.checkpoint_state`)::

    {
      "format": "arcnn-checkpoint/1",
      "model_kind": "arcnn" | "baseline",
      "model_config": dict,          # ARCNNConfig.to_dict()
      "train_config": dict,          # TrainConfig.to_dict()
      "model": state_dict,           # unwrapped (no DDP "module." prefix)
      "optimizer": state_dict, "scheduler": state_dict, "scaler": state_dict,
      "epoch": int,                  # epochs fully completed
      "step_in_epoch": int,          # batches done in the next epoch (> 0 after SIGINT)
      "global_step": int,
      "best_val_mae": float,         # inf before the first validation
      "best_epoch": int | None,      # the epoch (1-based) of best_val_mae
      "rng": dict of tensors,        # rng_state()
      "aug_rng": [tensor, ...],      # the augmentation generator's state, one per rank
      "epoch_sums": tensor | None,   # the running sums of an interrupted epoch (5,)
      "val_metrics": dict,           # the last validation metrics (floats)
      "data": {"root": str, "split_csv": str, "phantom": bool},
      "world_size": int, "precision": str,
    }

Writes go to a temporary file in the same folder followed by :func:`os.replace`, so a
crash (or a second SIGINT) never leaves a truncated ``last.pt`` behind.
"""
from __future__ import annotations

import os
import pickle
import random
import tempfile
from pathlib import Path
from typing import Any, Mapping, Union

import numpy as np
import torch

FORMAT = "arcnn-checkpoint/1"

PathLike = Union[str, os.PathLike]


# ---------------------------------------------------------------------------- file I/O
def save_atomic(obj: Any, path: PathLike) -> Path:
    """``torch.save(obj, path)`` through a temporary file and a rename (atomic on POSIX)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def load(path: PathLike, map_location: Union[str, torch.device, None] = "cpu") -> dict:
    """Load a checkpoint with ``weights_only=True`` and check its format.

    Raises ``FileNotFoundError`` naming the file when it is missing and ``ValueError``
    naming it when it is corrupt, truncated or not an AR-CNN checkpoint (never torch's
    advice to load it with ``weights_only=False``, which would run code from the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, ValueError, OSError) as exc:
        raise ValueError(f"checkpoint {str(path)!r} is corrupt or truncated and cannot be "
                         f"read ({type(exc).__name__}); train again or use another copy") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not an AR-CNN checkpoint (format {FORMAT!r})")
    return ckpt


def to_plain(obj: Any) -> Any:
    """Convert ``obj`` to what ``weights_only=True`` accepts (paths become strings,
    numpy scalars numbers, tuples lists)."""
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a weights_only checkpoint")


# ---------------------------------------------------------------------------- RNG state
def rng_state() -> dict:
    """The state of Python's, NumPy's and torch's global generators, as tensors.

    Returns a dict with ``torch`` (uint8 tensor), ``cuda`` (list of uint8 tensors, empty
    without CUDA), ``numpy`` (int64 tensor: key words then pos, has_gauss and the cached
    gaussian's bits) and ``python`` (int64 tensor: version, 625 state words, gauss flag
    and bits).
    """
    np_state = np.random.get_state(legacy=True)
    _, keys, pos, has_gauss, cached = np_state
    cached_bits = np.array([cached], dtype=np.float64).view(np.int64)[0]
    numpy_t = torch.from_numpy(np.concatenate(
        [np.asarray(keys, dtype=np.int64), np.array([pos, has_gauss, cached_bits], np.int64)]))
    version, internal, gauss = random.getstate()
    gauss_flag = 0 if gauss is None else 1
    gauss_bits = 0 if gauss is None else int(np.array([gauss], np.float64).view(np.int64)[0])
    python_t = torch.tensor([version, *internal, gauss_flag, gauss_bits], dtype=torch.int64)
    cuda = [s.clone() for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else []
    return {"torch": torch.get_rng_state().clone(), "cuda": cuda,
            "numpy": numpy_t, "python": python_t}


def set_rng_state(state: Mapping) -> None:
    """Restore what :func:`rng_state` returned (CUDA states only where devices match)."""
    torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
    n = state["numpy"].cpu().numpy().astype(np.int64)
    keys = n[:-3].astype(np.uint32)
    cached = float(np.array([n[-1]], np.int64).view(np.float64)[0])
    np.random.set_state(("MT19937", keys, int(n[-3]), int(n[-2]), cached))
    p = state["python"].cpu().tolist()
    gauss = float(np.array([p[-1]], np.int64).view(np.float64)[0]) if p[-2] else None
    random.setstate((int(p[0]), tuple(int(v) for v in p[1:-2]), gauss))

