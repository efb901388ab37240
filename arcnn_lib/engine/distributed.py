"""Multi-process training with ``torch.distributed`` (DDP), and the single-process default.

``torchrun --nproc_per_node=N -m arcnn_lib train ...`` sets ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE``; :func:`setup` reads them, joins the process group (NCCL on CUDA, gloo on
the CPU) and picks this process's device. Without those variables everything runs in one
process and every helper here is a no-op, so the training loop has a single code path.

Only rank 0 logs, writes ``metrics.csv`` and saves checkpoints (:attr:`DistInfo.is_main`).
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size`` and its ``device``."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    backend: Optional[str] = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def pick_device(requested: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto``: this process's CUDA device when there is one, else the CPU."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' was requested but no CUDA device is available")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if requested == "mps":
        return torch.device("mps")
    if requested.startswith("cuda:") or requested == "cpu":
        return torch.device(requested)
    raise ValueError(f"unknown device {requested!r}; use auto, cpu, cuda, cuda:N or mps")


def setup(device: str = "auto", timeout_minutes: float = 30.0) -> DistInfo:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1)."""
    world = env_world_size()
    if world <= 1:
        return DistInfo(device=pick_device(device))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    dev = pick_device(device, local_rank)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend,
                                timeout=datetime.timedelta(minutes=timeout_minutes))
    return DistInfo(rank=rank, local_rank=local_rank, world_size=world, device=dev,
                    backend=backend)


def cleanup(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.distributed:
        if info.backend == "nccl":
            dist.barrier(device_ids=[info.device.index])
        else:
            dist.barrier()


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``tensor`` over processes in place (no-op in one process)."""
    if info.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_flag(flag: bool, info: DistInfo) -> bool:
    """True on every rank when ``flag`` is true on any rank (e.g. a SIGTERM seen by one)."""
    if not info.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def broadcast_buffers(module: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    DDP already does so at the start of each forward pass; doing it at the end of an epoch
    makes every rank validate and save exactly the same model.
    """
    if info.distributed:
        for b in module.buffers():
            dist.broadcast(b.data, src=0)


def all_gather_cpu(tensor: torch.Tensor, info: DistInfo) -> list:
    """Every rank's ``tensor`` (same shape on all), as a list of CPU tensors in rank order."""
    if not info.distributed:
        return [tensor.cpu()]
    gathered = [torch.zeros_like(tensor) for _ in range(info.world_size)]
    dist.all_gather(gathered, tensor)
    return [g.cpu() for g in gathered]
