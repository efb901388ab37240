"""What parts cut from a native-resolution copy cost (``ARCNNConfig.part_source="native"``):
memory of the data path and training throughput, measured against the paper's parts."""
from __future__ import annotations

import time
from typing import Dict

import numpy as np


def native_cost(regime: dict, batch_size: int, steps: int, repeats: int, threads: int,
                num_concat: int = 3) -> dict:
    """Memory and training throughput of native crops against the paper's, measured here.

    Memory: bytes per image of the data path (uint8 cache row and the float batch the model
    is fed). Throughput: samples/s of one optimiser step of each model on the same random
    batch, the two interleaved ``repeats`` times (median), ``steps`` steps each, one process.
    """
    import torch
    from ..config import ARCNNConfig, scaled_geometry
    from ..model import ARCNN
    torch.set_num_threads(threads)
    cfgs = {"input": ARCNNConfig.smoke(**scaled_geometry(regime["input_size"]),
                                       num_concat=num_concat),
            "native": ARCNNConfig.smoke(**scaled_geometry(regime["input_size"]),
                                        num_concat=num_concat, part_source="native",
                                        native_size=regime["native_size"])}
    res = {"batch_size": batch_size, "steps": steps, "repeats": repeats, "threads": threads}
    models, opts, batches = {}, {}, {}
    for name, c in cfgs.items():
        torch.manual_seed(0)
        models[name] = ARCNN(c)
        opts[name] = torch.optim.AdamW(models[name].parameters(), 1e-3)
        n = c.data_size
        batches[name] = torch.rand(batch_size, 1, n, n, generator=torch.Generator().manual_seed(0))
        res[f"{name}_cache_bytes_per_image"] = n * n
        res[f"{name}_batch_float_bytes"] = int(batches[name].numel() * 4)
    ages = torch.linspace(0, 228, batch_size)
    times: Dict[str, list] = {k: [] for k in cfgs}
    for _ in range(repeats):
        for name in cfgs:
            m, opt, x = models[name], opts[name], batches[name]
            m.train()
            t = time.perf_counter()
            for _ in range(steps):
                loss = m.loss(m(x), ages).total
                opt.zero_grad()
                loss.backward()
                opt.step()
            times[name].append(time.perf_counter() - t)
    for name in cfgs:
        res[f"{name}_samples_per_s"] = batch_size * steps / float(np.median(times[name]))
    res["memory_ratio"] = res["native_cache_bytes_per_image"] / res["input_cache_bytes_per_image"]
    res["throughput_ratio"] = res["native_samples_per_s"] / res["input_samples_per_s"]
    return res
