"""Throughput of the data layer, measured in one run (not a timed test).

    python benchmarks/data_pipeline.py                      # rsna100 beside the repo, CPU
    python benchmarks/data_pipeline.py --data phantom --device cuda

Prints: the cache build time (read_index + decode + resize-pad + write, into a fresh
temporary folder unless --cache-dir is given), then samples/s at --size of
(a) the loader alone (memmap -> uint8 batch, batch_iterator),
(b) gpu_augment alone on --device,
(c) the whole training path: loader -> (pinned copy to the device) -> gpu_augment;
and (d) the time to write --phantom-n phantom images at 256 px (one process).
On a CPU, (b) runs on the CPU although it is meant for the GPU; the figures say so.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arcnn_lib.data import (RSNA100, ImageCache, batch_iterator, build_cache,  # noqa: E402
                            gpu_augment, make_phantom, phantom_folder, read_index)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build(data: str, size: int, dest: Path) -> ImageCache:
    root = phantom_folder(n=2000, cache_dir=dest.parent, progress=False) \
        if data == "phantom" else Path(data)
    start = time.perf_counter()
    index = read_index(root)
    cache = ImageCache(build_cache(index, dest, size, progress=False))
    print(f"cache build: {len(cache)} images of {root.name} at {size} px in "
          f"{time.perf_counter() - start:.1f} s ({len(cache) / (time.perf_counter() - start):.0f}"
          " images/s)")
    return cache


def rate(batches, n_batches: int, step, device: torch.device) -> float:
    """Samples/s of ``step`` over ``n_batches`` batches after one warm-up batch."""
    it = iter(batches)
    step(next(it))
    _sync(device)
    start, n = time.perf_counter(), 0
    for _ in range(n_batches):
        n += step(next(it))
    _sync(device)
    return n / (time.perf_counter() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(RSNA100), help="a data folder, or 'phantom'")
    parser.add_argument("--size", type=int, default=448)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--phantom-n", type=int, default=1000, help="0 skips (d)")
    parser.add_argument("--cache-dir", type=Path, help="keep the cache here (default: temp)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    tmp = Path(tempfile.mkdtemp(prefix="arcnn-bench-"))
    try:
        cache = build(args.data, args.size, args.cache_dir or tmp / "cache")
        print(f"device {device}, torch threads {torch.get_num_threads()}, batch {args.batch}")
        batches = lambda epoch: batch_iterator(cache, None, args.batch, True, 0, epoch, True)
        loader = rate(batches(0), args.batches, lambda b: len(b[3]), device)
        print(f"(a) loader memmap -> uint8 batch: {loader:.0f} samples/s")
        gen = torch.Generator(device).manual_seed(0)
        fixed = next(batches(1))[0].to(device)
        aug = rate(iter(lambda: fixed, None), args.batches,
                   lambda x: len(gpu_augment(x, gen)), device)
        print(f"(b) gpu_augment on {device}: {aug:.0f} samples/s")
        pin = device.type == "cuda"

        def path(b):
            x = b[0].pin_memory() if pin else b[0]
            return len(gpu_augment(x.to(device, non_blocking=pin), gen))
        total = rate(batches(2), args.batches, path, device)
        print(f"(c) training path (loader + transfer + gpu_augment): {total:.0f} samples/s")
        if args.phantom_n:
            start = time.perf_counter()
            make_phantom(tmp / "phantom", args.phantom_n, seed=0, size=256, progress=False)
            print(f"(d) phantom: {args.phantom_n} images at 256 px in "
                  f"{time.perf_counter() - start:.1f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
