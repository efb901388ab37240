"""Batches of cache rows for the training and evaluation engines: a seeded, shardable
epoch order and a prefetching loader from the uint8 cache to the device.

Why not ``torch.utils.data.DataLoader``: the cache is one uint8 memmap (N, S, S), so a
batch is one fancy-index read; worker processes would only add start-up time and copies.
A background thread reads the next batches (into pinned memory on CUDA) while the device
computes, and the copy to the device is ``non_blocking``.

The order of an epoch is a pure function of ``(seed, epoch)`` (:func:`epoch_order`, which
:class:`EpochOrder` extends with DDP shards; the chapters' ``batch_iterator`` reads the same
batches through :func:`iterate`), so
resuming at epoch e (even mid-epoch, by skipping the batches already done) replays exactly
what an uninterrupted run would have seen. Under DDP each rank takes every
``world_size``-th row of the same permutation (padded like ``DistributedSampler`` so all
ranks run the same number of steps).
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Iterator, List, NamedTuple

import numpy as np
import torch



def epoch_order(indices: np.ndarray, shuffle: bool, seed: int, epoch: int) -> np.ndarray:
    """The cache rows of one epoch, in visiting order: a permutation seeded by (seed, epoch)."""
    if not shuffle:
        return indices
    return np.random.default_rng([int(seed), int(epoch)]).permutation(indices)


class Batch(NamedTuple):
    """One batch on the device: ``images`` uint8 (B, 1, S, S), ``age`` float32 (B,) months,
    ``male`` bool (B,), ``rows`` int64 (B,) cache rows (on the CPU)."""

    images: torch.Tensor
    age: torch.Tensor
    male: torch.Tensor
    rows: torch.Tensor


@dataclass
class EpochOrder:
    """Which cache rows this rank reads in each epoch, batch by batch.

    Args:
        rows: the cache rows of the subset (e.g. the training split of one sex).
        batch_size: per-rank batch size.
        seed: with the epoch number, fixes the permutation.
        shuffle: permute each epoch (training) or keep ``rows`` in order (evaluation).
        drop_last: drop a final incomplete batch (training: BatchNorm needs > 1 sample and
            every step should have the same size); evaluation keeps it.
        rank, world_size: this process's shard under DDP. Training pads to a multiple of
            ``world_size``; evaluation does not pad (shards may differ by one row, and the
            engine sums errors over ranks, so nothing is counted twice).
    """

    rows: np.ndarray
    batch_size: int
    seed: int = 0
    shuffle: bool = True
    drop_last: bool = True
    rank: int = 0
    world_size: int = 1

    def __post_init__(self):
        self.rows = np.asarray(self.rows, dtype=np.int64)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    def epoch_rows(self, epoch: int) -> np.ndarray:
        rows = self.rows
        if self.shuffle:
            rows = epoch_order(rows, True, self.seed, epoch)
            if self.world_size > 1 and len(rows) % self.world_size:
                pad = self.world_size - len(rows) % self.world_size
                rows = np.concatenate([rows, rows[:pad]])
        return rows[self.rank::self.world_size]

    def batches(self, epoch: int) -> List[np.ndarray]:
        r = self.epoch_rows(epoch)
        n = len(r) // self.batch_size if self.drop_last else -(-len(r) // self.batch_size)
        if self.drop_last and n == 0 and len(r) > 1:
            return [r]  # fewer rows than one batch: one smaller batch rather than none
        return [r[i * self.batch_size:(i + 1) * self.batch_size] for i in range(n)]

    def __len__(self) -> int:
        return len(self.batches(0))


def _read(images: np.ndarray, ages: np.ndarray, male: np.ndarray, rows: np.ndarray,
          pin: bool) -> Batch:
    order = np.argsort(rows, kind="stable")  # sorted reads are friendlier to the memmap
    rows = rows[order]
    img = torch.from_numpy(np.ascontiguousarray(images[rows]))[:, None]
    age = torch.from_numpy(ages[rows].astype(np.float32))
    mal = torch.from_numpy(male[rows].astype(bool))
    r = torch.from_numpy(rows.copy())
    if pin:
        img, age, mal = img.pin_memory(), age.pin_memory(), mal.pin_memory()
    return Batch(img, age, mal, r)


def iterate(images: np.ndarray, ages: np.ndarray, male: np.ndarray,
            batches: List[np.ndarray], device: torch.device, start: int = 0,
            prefetch: int = 2) -> Iterator[Batch]:
    """Yield :class:`Batch` es for ``batches[start:]`` on ``device``.

    Args:
        images: uint8 (N, S, S) cache (a memmap); ages: (N,) months; male: (N,) bool.
        batches: row arrays, e.g. ``EpochOrder.batches(epoch)``.
        start: skip the first ``start`` batches (mid-epoch resume).
        prefetch: batches read ahead by a background thread (0: read in this thread).
    """
    pin = device.type == "cuda"
    todo = batches[start:]

    def to_device(b: Batch) -> Batch:
        if device.type == "cpu":
            return b
        return Batch(b.images.to(device, non_blocking=True), b.age.to(device, non_blocking=True),
                     b.male.to(device, non_blocking=True), b.rows)

    if prefetch <= 0:
        for rows in todo:
            yield to_device(_read(images, ages, male, rows, pin))
        return

    q: "queue.Queue" = queue.Queue(maxsize=prefetch)
    stop = threading.Event()
    _END = object()

    def worker():
        try:
            for rows in todo:
                if stop.is_set():
                    return
                q.put(_read(images, ages, male, rows, pin))
            q.put(_END)
        except BaseException as e:  # surface read errors in the consumer
            q.put(e)

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            yield to_device(item)
    finally:
        stop.set()
        while t.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(timeout=0.05)
