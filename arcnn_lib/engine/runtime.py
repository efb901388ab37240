"""Small pieces the training and evaluation engines share.

- :class:`Precision` / :func:`select_precision`: mixed precision. On a CUDA GPU that supports
  it, bf16 autocast (no loss scaling needed); on an older GPU, fp16 autocast with a
  ``GradScaler``; on the CPU, plain fp32 (CPU autocast is slower than fp32 for these
  convolutions on small machines, and fp32 keeps the CPU runs exactly reproducible).
- :func:`seed_everything`, :func:`set_threads`: reproducibility and CPU threads.
- :class:`MetricsLog`: ``metrics.csv``, one row per epoch, resumable.
- :class:`StopFlag`: SIGINT / SIGTERM ask the loop to finish the current step and save.
- :func:`provenance`: git commit, hardware, library versions, date.
"""
from __future__ import annotations

import contextlib
import csv
import datetime
import math
import os
import platform
import random
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import numpy as np
import torch

AMP_CHOICES = ("auto", "bf16", "fp16", "fp32")


# ---------------------------------------------------------------------------- precision
@dataclass(frozen=True)
class Precision:
    """The numeric precision of one run: ``name`` is ``bf16``, ``fp16`` or ``fp32``."""

    name: str
    device_type: str

    @property
    def dtype(self) -> Optional[torch.dtype]:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.name)

    @property
    def uses_scaler(self) -> bool:
        return self.name == "fp16"

    def autocast(self):
        """The autocast context of the forward pass (a no-op in fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> "torch.amp.GradScaler":
        """A ``GradScaler``, enabled only for fp16 (disabled ones still save a state)."""
        return torch.amp.GradScaler(self.device_type if self.device_type == "cuda" else "cpu",
                                    enabled=self.uses_scaler)


def native_bf16() -> bool:
    """Whether the CUDA GPU computes bf16 natively (Ampere and newer).

    Recent PyTorch counts emulated bf16 as supported (a T4 answers yes), which would make
    training far slower than fp16 there; so emulation is excluded where PyTorch allows it.
    """
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # PyTorch before the argument existed: no emulation counted
        return torch.cuda.is_bf16_supported()


def select_precision(device: torch.device, requested: str = "auto") -> Precision:
    """bf16 where the GPU supports it, otherwise fp16; fp32 on the CPU (see module doc).

    ``requested`` may force ``bf16`` / ``fp16`` / ``fp32``; fp16 on the CPU and bf16 on a
    GPU without bf16 support are refused with a clear message.
    """
    if requested not in AMP_CHOICES:
        raise ValueError(f"amp={requested!r} is unknown; choose one of {', '.join(AMP_CHOICES)}")
    dt = device.type
    if requested == "fp32":
        return Precision("fp32", dt)
    if dt == "cuda":
        bf16_ok = native_bf16()
        if requested == "auto":
            return Precision("bf16" if bf16_ok else "fp16", dt)
        if requested == "bf16" and not bf16_ok:
            raise ValueError("amp='bf16' requested but this GPU does not support bf16; "
                             "use --amp fp16 or auto")
        return Precision(requested, dt)
    if requested == "auto":
        return Precision("fp32", dt)
    if requested == "fp16":
        raise ValueError(f"amp='fp16' is only supported on CUDA, not on {dt!r}; "
                         "use --amp bf16, fp32 or auto")
    return Precision("bf16", dt)


# ---------------------------------------------------------------------------- seeds, threads
def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_threads(num_threads: Optional[int] = None) -> int:
    """Use ``num_threads`` intra-op CPU threads (default: the cores this process may use)."""
    if num_threads is None or num_threads <= 0:
        try:
            num_threads = len(os.sched_getaffinity(0))
        except AttributeError:  # macOS, Windows
            num_threads = os.cpu_count() or 1
    torch.set_num_threads(max(1, int(num_threads)))
    return torch.get_num_threads()


# ---------------------------------------------------------------------------- metrics.csv
class MetricsLog:
    """``metrics.csv``: one row per epoch; the header is the union of all rows' keys.

    On resume, :meth:`truncate` drops rows of epochs after the checkpoint so a resumed run
    ends with the same file as an uninterrupted one (apart from ``seconds``).
    """

    def __init__(self, path: os.PathLike):
        self.path = Path(path)
        self.rows: List[Dict] = []
        if self.path.is_file():
            with open(self.path, newline="") as f:
                self.rows = [dict(r) for r in csv.DictReader(f)]

    def truncate(self, last_epoch: int) -> None:
        self.rows = [r for r in self.rows if int(float(r["epoch"])) <= last_epoch]
        self._write()

    def append(self, row: Dict) -> None:
        self.rows.append(dict(row))
        self._write()

    def _write(self) -> None:
        keys: List[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            for r in self.rows:
                w.writerow({k: _fmt(r.get(k, "")) for k in keys})
        os.replace(tmp, self.path)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


# ---------------------------------------------------------------------------- signals
class StopFlag:
    """Catch SIGINT / SIGTERM while training: the first one sets :attr:`requested` so the
    loop finishes its step, saves and returns; a second SIGINT raises ``KeyboardInterrupt``.

    Use as a context manager; the previous handlers come back on exit. Outside the main
    thread (where handlers cannot be installed) it does nothing.
    """

    def __init__(self, signals: Iterable[int] = (signal.SIGINT, signal.SIGTERM)):
        self.signals = tuple(signals)
        self.requested = False
        self.signum: Optional[int] = None
        self._old = {}

    def _handle(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if not self.requested:
            import sys
            print(f"\n{signal.Signals(signum).name} received: finishing this step, saving "
                  "last.pt (resume with --resume); send SIGINT again to abort", file=sys.stderr)
        self.requested = True
        self.signum = signum

    def __enter__(self):
        import threading
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        self._old.clear()
        return False


# ---------------------------------------------------------------------------- provenance
def git_commit(path: os.PathLike = None) -> Optional[str]:
    """The commit of the repository holding this library (with ``-dirty``), or None."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                             text=True, timeout=10)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=where, capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def hardware(device: Optional[torch.device] = None) -> dict:
    """A short description of the machine: CPU, cores, threads, GPU name and memory."""
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "device": str(device) if device is not None else "cpu"}
    if torch.cuda.is_available():
        idx = device.index if device is not None and device.type == "cuda" and device.index is not None else 0
        p = torch.cuda.get_device_properties(idx)
        info.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1),
                    gpu_count=torch.cuda.device_count(), cuda=torch.version.cuda)
    return info


def provenance(device: Optional[torch.device] = None) -> dict:
    """Git commit, hardware, versions and the date (UTC, ISO 8601)."""
    import sys
    return {"git_commit": git_commit(), "hardware": hardware(device),
            "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                         "numpy": np.__version__},
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def jsonable(v):
    """``v`` made JSON-safe, recursively: numpy scalars and tensors to Python, NaN and
    infinities to None, keys to strings."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, torch.Tensor):
        return v.tolist()
    return v
