"""Throughput of one full AR-CNN training step, against an NTS-Net-style step and the floor.

One process, one device. A *training step* is: forward pass, both losses (Eq. 4 recognition
L1 terms and Eq. 3 ranking hinge), backward pass, optimizer step. Throughput is reported as
samples per second, one sample being one radiograph (``batch_size`` samples per step).
Three variants are timed on the same configuration (by default the paper's: ResNet-50,
448 x 448 input, M = 6 parts of 224 x 224, K = 3, batch 32):

(a) ``arcnn_lib``: :class:`arcnn_lib.model.ARCNN` as the library trains it -- mixed
    precision (bf16 autocast where the GPU supports bf16, otherwise fp16 autocast with a
    ``GradScaler``), channels_last weights on CUDA, batched NMS/top-M on the device with no
    round trip of the scores to the host (:func:`arcnn_lib.model.attention.select_parts`), all
    B x M crops in one ``roi_align`` (:func:`arcnn_lib.model.crop.crop_parts`),
    ``zero_grad(set_to_none=True)``.
    With ``--compile`` a variant (a') runs the same model through ``torch.compile``.

(b) an NTS-Net-style reference (:class:`NTSStyleStep`, below): the *same network* (the
    ARCNN's own extractor, navigator and heads, same weights, same losses) driven the way
    the public NTS-Net code drives its step (Yang et al., "Learning to Navigate for
    Fine-grained Classification", ECCV 2018; the authors' PyTorch release, ``core/model.py``
    and ``train.py``):

    * fp32 tensors and contiguous (NCHW) layout throughout, no autocast;
    * the navigator's anchor scores are copied to the host (``.cpu().numpy()``, a device
      synchronisation every step), and greedy hard NMS runs on the CPU in NumPy, one image
      at a time, keeping the top M;
    * the kept indices go back to the device (``torch.from_numpy(...).to(device)``) to
      gather the part scores;
    * the navigator reads a detached copy of the feature map (NTS-Net's
      ``proposal_net(rpn_feature.detach())``), so the ranking loss trains the navigator alone;
    * the image is zero-padded once (``F.pad``), and a Python loop over images and parts
      slices each part at integer pixel coordinates and resizes it with
      ``F.interpolate(..., size=(P, P), mode="bilinear", align_corners=True)`` into a
      pre-allocated ``(B, M, C, P, P)`` tensor -- B x M small kernel launches per step;
    * the recogniser reads the stacked parts; the same L1 terms and
      :func:`arcnn_lib.model.losses.ranking_hinge_loss`; backward; and, as in NTS-Net's
      ``train.py``, one SGD optimizer per parameter group (backbone + whole-image head,
      concat head, part head, navigator), each zeroed and stepped separately.

    Where NTS-Net's code and ``arcnn_lib``'s model disagree we follow the model, so that
    the two select the same parts and compute the same function (only the mechanics
    differ): NMS suppresses IoU > threshold (NTS-Net's ``hard_nms`` keeps IoU < threshold,
    which differs exactly at 0.25 -- a 48-pixel anchor inside a 96-pixel one); score ties
    are broken towards the lower anchor index; if fewer than M anchors survive NMS the
    best-scoring unselected ones fill the slots; losses are AR-CNN's regression and
    ranking terms rather than NTS-Net's cross-entropies; and parts are cut from the grey
    image in [0, 1] and normalised afterwards, as the library does, so that outside the
    image they are black (NTS-Net pads its *normalised* tensor with zero, i.e. with the
    mean grey). The crops differ on purpose: NTS-Net rounds each box to whole pixels and
    interpolates with ``align_corners=True``, the library samples the exact box with
    ``roi_align`` -- so part ages of (a) and (b) are close, not equal, while the selected
    boxes, scores and A_X are the same (``tests/test_benchmark_train_step.py``).

    "fp32" means fp32 tensors with PyTorch's default math settings: on Ampere and later GPUs
    cuDNN may use TF32 for fp32 convolutions unless ``--strict-fp32`` turns that off for (b).

(c) the compute floor: the bare :class:`arcnn_lib.model.recognition.FeatureExtractor` forward and
    backward (loss = mean of the features) with the same precision and layout as (a), on
    the pixel load of one sample -- one S x S image plus M P x P parts, i.e. one batch of B
    images of 448^2 and one of B * M images of 224^2 -- plus an optimizer step. No
    navigator, NMS, crops or heads: what (a) cannot beat.

All variants use the same optimizer (SGD, lr 1e-3, momentum 0.9, weight decay 1e-4, PyTorch's
default implementation), the same fixed batch (no data loading is timed), BatchNorm in
training mode. (a) and (b) receive uint8 images (B, 1, S, S) already on the device and
convert them inside the step (float, / 255; the whole image is normalised for the extractor,
the parts are cropped from the grey image and normalised after cropping); (c) receives
float inputs.
``torch.backends.cudnn.benchmark`` is on for all variants on CUDA.

Timing: ``--warmup`` untimed steps (cuDNN autotuning, allocator warm-up, compilation), then
``--steps`` timed steps between two ``torch.cuda.synchronize()`` calls, measured with
``time.perf_counter``; samples/s = batch x steps / elapsed seconds.

Targets (reported, not enforced): eager (a)/(b) >= 2.5 and (a)/(c) >= 0.95; compiled
(a')/(b) >= 3.5 (with ``--compile``); and the peak GPU memory of (a) at batch 16 <= 8 GiB (so
that a 16 GB Colab T4 holds batch 32 of the paper configuration in fp16). The memory figure is its own measurement (``--memory-batch``, default 16): a fresh
model, warm-up steps, ``torch.cuda.reset_peak_memory_stats()``, more steps, then
``torch.cuda.max_memory_allocated()`` -- the steady-state peak of tensors (weights, grads,
momentum, activations, cuDNN workspaces), not counting the allocator's cache or the CUDA
context. It is skipped (null) on the CPU.

Usage::

    python benchmarks/train_step.py                       # paper profile on CUDA, smoke on CPU
    python benchmarks/train_step.py --json results/reference/train_step_<gpu>.json
    python benchmarks/train_step.py --device cpu --profile smoke --batch-size 4
    python benchmarks/train_step.py --only a,c --steps 30
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

try:
    import arcnn_lib  # noqa: F401
except ImportError:  # run as a script from a checkout without installing the library
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arcnn_lib.config import PROFILES, ARCNNConfig
from arcnn_lib.model.crop import crop_parts
from arcnn_lib.engine.runtime import Precision, select_precision
from arcnn_lib.model.losses import l1_age, ranking_hinge_loss
from arcnn_lib.model import ARCNN, ARCNNOutput, assemble_age, normalise, unit_grey
from arcnn_lib.model.recognition import FeatureExtractor

TARGET_A_OVER_B = 2.5
TARGET_A_OVER_C = 0.95
TARGET_COMPILED_OVER_B = 3.5
TARGET_MEMORY_GIB = 8.0
GIB = 1024 ** 3

LR, MOMENTUM, WEIGHT_DECAY = 1e-3, 0.9, 1e-4
OPTIMIZER = f"SGD(lr={LR}, momentum={MOMENTUM}, weight_decay={WEIGHT_DECAY})"

VARIANT_NAMES = {
    "a": "arcnn_lib ARCNN",
    "a_compiled": "arcnn_lib ARCNN, torch.compile",
    "b": "NTS-style reference, fp32",
    "c": "bare backbone fwd+bwd (floor)",
}


def _sgd(params) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)


# ============================================================================ precision
def _backward_and_step(loss: torch.Tensor, optimizers: Sequence[torch.optim.Optimizer],
                       scaler: Optional["torch.amp.GradScaler"]) -> None:
    if scaler is None:
        loss.backward()
        for opt in optimizers:
            opt.step()
        return
    scaler.scale(loss).backward()
    for opt in optimizers:
        scaler.step(opt)       # note: GradScaler reads its inf check on the host (a sync)
    scaler.update()


# ============================================================================ (b) reference
def hard_nms_numpy(scores: np.ndarray, boxes: np.ndarray, topn: int,
                   iou_thresh: float) -> np.ndarray:
    """Greedy NMS of one image on the CPU, NTS-Net style: (A,) scores, (A, 4) boxes -> (topn,).

    Repeatedly keeps the best remaining box and drops the remaining boxes whose IoU with it
    exceeds ``iou_thresh``, until ``topn`` are kept. Arithmetic is float32 in the same order
    as :func:`arcnn_lib.model.attention.box_iou`, ties go to the lower index, and missing slots are
    filled with the best unselected boxes -- the rules of
    :func:`arcnn_lib.model.attention.select_parts` (see the module docstring).
    """
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: List[int] = []
    cand = order
    while cand.size and len(keep) < topn:
        i = int(cand[0])
        keep.append(i)
        rest = cand[1:]
        lt = np.maximum(boxes[rest, :2], boxes[i, :2])
        rb = np.minimum(boxes[rest, 2:], boxes[i, 2:])
        wh = np.clip(rb - lt, 0, None)
        inter = wh[:, 0] * wh[:, 1]
        iou = inter / (area[i] + area[rest] - inter)
        cand = rest[~(iou > np.float32(iou_thresh))]
    if len(keep) < topn:
        chosen = set(keep)
        keep += [int(j) for j in order if int(j) not in chosen][:topn - len(keep)]
    return np.asarray(keep, dtype=np.int64)


class NTSStyleStep:
    """Forward pass and training step of ``model`` the way NTS-Net's public code does them.

    Args:
        model: an :class:`arcnn_lib.model.ARCNN`; its extractor, navigator and heads (and so
            its weights) are used as they are.
        crop: ``"nts"`` (slice at whole pixels + ``F.interpolate(align_corners=True)``, the
            benchmark) or ``"roi_align"`` (the library's crop of one box at a time, still in
            the Python loop; used by the tests to show the rest of the step is the same
            function as ``ARCNN.forward``).

    ``forward(images)`` -> :class:`arcnn_lib.model.ARCNNOutput`; ``step(images, ages)``
    runs one fp32 training step with NTS-Net's four optimizers and returns the loss.
    """

    def __init__(self, model: ARCNN, crop: str = "nts"):
        if crop not in ("nts", "roi_align"):
            raise ValueError(f"crop must be 'nts' or 'roi_align', got {crop!r}")
        self.model, self.crop = model, crop
        cfg = self.cfg = model.config
        self.anchors_np = model.anchors.detach().cpu().numpy().astype(np.float32)   # (A, 4)
        # NTS-Net pads by half the image (224 for 448); make sure every anchor fits.
        reach = max(0.0, float(-self.anchors_np.min()),
                    float(self.anchors_np.max()) - cfg.image_size)
        self.pad = max(cfg.image_size // 2, int(math.ceil(reach)) + 1)
        self.optimizers: List[torch.optim.Optimizer] = []

    def make_optimizers(self) -> List[torch.optim.Optimizer]:
        """NTS-Net's four optimizers: raw (backbone + its FC), concat, part, proposal."""
        m = self.model
        groups = [list(m.extractor.parameters()) + list(m.heads.fc_x.parameters()),
                  list(m.heads.fc_concat.parameters()), list(m.heads.fc_part.parameters()),
                  list(m.navigator.parameters())]
        self.optimizers = [_sgd(g) for g in groups]
        return self.optimizers

    def _crop(self, x: torch.Tensor, boxes: np.ndarray) -> torch.Tensor:
        """(B, C, S, S) grey image in [0, 1], (B, M, 4) float boxes -> (B * M, C, P, P).

        Outside the image the parts are zero, i.e. black; they are normalised by the caller.
        """
        B, C = x.shape[:2]
        M, P = boxes.shape[1], self.cfg.part_size
        parts = torch.zeros(B, M, C, P, P, device=x.device, dtype=x.dtype)
        if self.crop == "nts":
            x_pad = F.pad(x, (self.pad,) * 4, mode="constant", value=0.0)
            ints = np.floor(boxes + self.pad).astype(np.int64)
            for i in range(B):
                for j in range(M):
                    x0, y0, x1, y1 = ints[i, j].tolist()
                    parts[i:i + 1, j] = F.interpolate(x_pad[i:i + 1, :, y0:y1, x0:x1],
                                                      size=(P, P), mode="bilinear",
                                                      align_corners=True)
        else:
            boxes_t = torch.from_numpy(boxes).to(x.device)
            for i in range(B):
                for j in range(M):
                    parts[i:i + 1, j] = crop_parts(x[i:i + 1], boxes_t[i:i + 1, j:j + 1], P)
        return parts.reshape(B * M, C, P, P)

    def forward(self, images: torch.Tensor) -> ARCNNOutput:
        m, cfg = self.model, self.cfg
        grey = unit_grey(images, cfg)                                          # [0, 1]
        x = normalise(grey, cfg)
        B, M = x.shape[0], cfg.num_parts
        feat_x, fmap = m.extractor(x)
        anchor_scores = m.navigator(fmap.detach())               # as NTS-Net: (B, A)
        host_scores = anchor_scores.detach().cpu().numpy()                     # sync
        idx = np.stack([hard_nms_numpy(s, self.anchors_np, M, cfg.nms_iou)
                        for s in host_scores])                                 # (B, M)
        boxes = self.anchors_np[idx]                                           # (B, M, 4)
        idx_t = torch.from_numpy(idx).to(x.device)
        part_scores = torch.gather(anchor_scores, 1, idx_t)
        parts = normalise(self._crop(grey, boxes), cfg)         # black outside the image
        feat_parts, _ = m.extractor(parts.detach())
        feat_parts = feat_parts.reshape(B, M, -1)
        z_x, z_parts, z_concat = m.heads(feat_x, feat_parts, None)
        age_x, age_parts, age_concat = (cfg.age_center + cfg.age_scale * z.float()
                                        for z in (z_x, z_parts, z_concat))
        return ARCNNOutput(
            age=assemble_age(age_concat, age_x, age_parts, cfg.num_concat), age_x=age_x,
            age_concat=age_concat, age_parts=age_parts, part_scores=part_scores,
            part_boxes=torch.from_numpy(boxes).to(x.device), anchor_scores=anchor_scores,
            age_scale=cfg.age_scale)

    def loss(self, out: ARCNNOutput, target_age: torch.Tensor) -> torch.Tensor:
        """Eq. 5 written out term by term, as NTS-Net's train.py sums its four losses."""
        s = out.age_scale
        target = target_age.to(out.age_x.dtype)
        raw_loss = l1_age(out.age_x, target, s)
        concat_loss = l1_age(out.age_concat, target, s)
        part_dev = (out.age_parts - target[:, None]).abs()                    # (B, M)
        partcls_loss = part_dev.mean(dim=0).sum() / s
        rank_loss = ranking_hinge_loss(out.part_scores.float(), part_dev.float())
        return raw_loss + rank_loss + concat_loss + partcls_loss

    def step(self, images: torch.Tensor, target_age: torch.Tensor) -> torch.Tensor:
        if not self.optimizers:
            self.make_optimizers()
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=False)     # NTS-Net-era zero_grad: fill with zeros
        total = self.loss(self.forward(images), target_age)
        total.backward()
        for opt in self.optimizers:
            opt.step()
        return total.detach()


# ============================================================================ helpers
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def _inputs(cfg: ARCNNConfig, batch: int, device: torch.device, seed: int):
    """Fixed uint8 images (B, 1, S, S) and ages (B,) in months, on the device."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (batch, 1, cfg.image_size, cfg.image_size),
                           generator=g, dtype=torch.uint8)
    ages = torch.rand(batch, generator=g) * 228.0
    return images.to(device), ages.to(device)


def _build_arcnn(cfg: ARCNNConfig, device: torch.device, seed: int,
                 channels_last: bool) -> ARCNN:
    torch.manual_seed(seed)
    model = ARCNN(cfg).to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def _time(step: Callable[[], torch.Tensor], device: torch.device, warmup: int,
          steps: int, batch: int) -> Dict:
    """Warm-up, then ``steps`` timed steps between two synchronisations."""
    loss = None
    for _ in range(warmup):
        loss = step()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    _sync(device)
    elapsed = time.perf_counter() - t0
    result = {"samples_per_s": batch * steps / elapsed, "ms_per_step": 1e3 * elapsed / steps,
              "steps": steps, "warmup": warmup, "seconds": elapsed,
              "last_loss": float(loss) if loss is not None else None}
    result["loss_finite"] = result["last_loss"] is not None and math.isfinite(result["last_loss"])
    result["peak_memory_gib"] = (torch.cuda.max_memory_allocated(device) / GIB
                                 if device.type == "cuda" else None)
    return result


# ============================================================================ variants
def arcnn_step_fn(model: ARCNN, precision: Precision, images: torch.Tensor,
                  ages: torch.Tensor, net: Optional[nn.Module] = None
                  ) -> Callable[[], torch.Tensor]:
    """One training step of (a): AMP forward of ``net`` (default ``model``; a compiled
    wrapper of it for (a')), Eq. 5 loss, backward, SGD step."""
    net = model if net is None else net
    opt = _sgd(model.parameters())
    scaler = precision.grad_scaler() if precision.uses_scaler else None

    def step() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        with precision.autocast():
            out = net(images)
        loss = model.loss(out, ages).total
        _backward_and_step(loss, [opt], scaler)
        return loss.detach()

    return step


def run_a(cfg, device, precision, batch, warmup, steps, seed, compile_model=False) -> Dict:
    channels_last = device.type == "cuda"
    model = _build_arcnn(cfg, device, seed, channels_last)
    net = torch.compile(model) if compile_model else model
    images, ages = _inputs(cfg, batch, device, seed)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    step = arcnn_step_fn(model, precision, images, ages, net=net)
    res = _time(step, device, warmup, steps, batch)
    res.update(precision=precision.name, channels_last=channels_last, compiled=compile_model)
    return res


def run_b(cfg, device, batch, warmup, steps, seed, strict_fp32=False) -> Dict:
    model = _build_arcnn(cfg, device, seed, channels_last=False)
    ref = NTSStyleStep(model, crop="nts")
    ref.make_optimizers()
    images, ages = _inputs(cfg, batch, device, seed)
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    if strict_fp32:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        res = _time(lambda: ref.step(images, ages), device, warmup, steps, batch)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
    res.update(precision="fp32", channels_last=False,
               tf32_convolutions=(device.type == "cuda" and not strict_fp32
                                  and torch.backends.cudnn.allow_tf32))
    return res


def run_c(cfg, device, precision, batch, warmup, steps, seed) -> Dict:
    channels_last = device.type == "cuda"
    torch.manual_seed(seed)
    extractor = FeatureExtractor(cfg).to(device).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    extractor = extractor.to(memory_format=fmt)
    g = torch.Generator().manual_seed(seed)
    S, P, M = cfg.image_size, cfg.part_size, cfg.num_parts
    x_img = torch.randn(batch, 1, S, S, generator=g).to(device).contiguous(memory_format=fmt)
    x_parts = torch.randn(batch * M, 1, P, P, generator=g).to(device).contiguous(
        memory_format=fmt)
    opt = _sgd(extractor.parameters())
    scaler = precision.grad_scaler() if precision.uses_scaler else None

    def step() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        with precision.autocast():
            f_img, _ = extractor(x_img)
            f_parts, _ = extractor(x_parts)
        loss = f_img.float().mean() + f_parts.float().mean()
        _backward_and_step(loss, [opt], scaler)
        return loss.detach()

    res = _time(step, device, warmup, steps, batch)
    res.update(precision=precision.name, channels_last=channels_last,
               pixels_per_sample=S * S + M * P * P)
    return res


def measure_memory(cfg, device, precision, batch, seed, warmup=3, steps=2) -> Dict:
    """Steady-state peak GPU memory of (a) at ``batch``; OOM is caught and reported."""
    res = {"batch": batch, "peak_gib": None, "peak_gib_incl_warmup": None, "oom": False,
           "error": None, "precision": precision.name}
    if device.type != "cuda":
        res["error"] = "not measured on the CPU"
        return res
    _free(device)
    torch.cuda.reset_peak_memory_stats(device)
    try:
        model = _build_arcnn(cfg, device, seed, channels_last=True)
        images, ages = _inputs(cfg, batch, device, seed)
        step = arcnn_step_fn(model, precision, images, ages)
        for _ in range(warmup):
            step()
        _sync(device)
        res["peak_gib_incl_warmup"] = torch.cuda.max_memory_allocated(device) / GIB
        torch.cuda.reset_peak_memory_stats(device)
        for _ in range(steps):
            step()
        _sync(device)
        res["peak_gib"] = torch.cuda.max_memory_allocated(device) / GIB
    except torch.cuda.OutOfMemoryError as e:
        res["oom"] = True
        res["error"] = str(e).splitlines()[0]
    finally:
        model = images = ages = step = None
        _free(device)
    return res


# ============================================================================ main
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", choices=PROFILES, default=None,
                   help="model configuration (default: paper on CUDA, smoke on the CPU)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="samples per step (default: 32 on CUDA, 4 on the CPU)")
    p.add_argument("--steps", type=int, default=15, help="timed steps per variant")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps per variant")
    p.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda if any)")
    p.add_argument("--amp", choices=("auto", "bf16", "fp16", "fp32"), default="auto",
                   help="precision of (a) and (c) (auto: bf16 or fp16 on CUDA, fp32 on CPU)")
    p.add_argument("--only", default="a,b,c", help="comma-separated subset of a,b,c")
    p.add_argument("--memory-batch", type=int, default=16,
                   help="batch of the peak-memory measurement of (a); 0 skips it")
    p.add_argument("--compile", action="store_true",
                   help="also time (a') = (a) under torch.compile (slow to warm up)")
    p.add_argument("--strict-fp32", action="store_true",
                   help="disable TF32 for the reference (b) on CUDA")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    return p.parse_args(argv)


def _guarded(run: Callable[[], Dict], device: torch.device) -> Dict:
    """Run one variant; a CUDA out-of-memory error is reported instead of raised."""
    try:
        return run()
    except torch.cuda.OutOfMemoryError as e:
        return {"samples_per_s": None, "ms_per_step": None, "peak_memory_gib": None,
                "precision": None, "error": "out of memory: " + str(e).splitlines()[0]}


def _ratio(num: Optional[Dict], den: Optional[Dict]) -> Optional[float]:
    if not num or not den or not num["samples_per_s"] or not den["samples_per_s"]:
        return None
    return num["samples_per_s"] / den["samples_per_s"]


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    args = parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    on_gpu = device.type == "cuda"
    profile = args.profile or ("paper" if on_gpu else "smoke")
    batch = args.batch_size or (32 if on_gpu else 4)
    only = [v.strip() for v in args.only.split(",") if v.strip()]
    unknown = set(only) - {"a", "b", "c"}
    if unknown:
        raise SystemExit(f"--only: unknown variants {sorted(unknown)}; use a, b, c")
    if args.steps < 1 or args.warmup < 0 or batch < 1:
        raise SystemExit("--steps and --batch-size must be >= 1, --warmup >= 0")
    cfg = ARCNNConfig.from_profile(profile)
    precision = select_precision(device, args.amp)

    saved_benchmark = torch.backends.cudnn.benchmark
    if on_gpu:
        torch.backends.cudnn.benchmark = True
    variants: Dict[str, Dict] = {}
    memory = None
    t_start = time.perf_counter()
    try:
        if on_gpu and args.memory_batch > 0 and "a" in only:
            memory = measure_memory(cfg, device, precision, args.memory_batch, args.seed)
        todo = []
        if "a" in only:
            todo.append(("a", lambda: run_a(cfg, device, precision, batch, args.warmup,
                                            args.steps, args.seed)))
            if args.compile:
                todo.append(("a_compiled", lambda: run_a(
                    cfg, device, precision, batch, args.warmup, args.steps, args.seed,
                    compile_model=True)))
        if "b" in only:
            todo.append(("b", lambda: run_b(cfg, device, batch, args.warmup, args.steps,
                                            args.seed, args.strict_fp32)))
        if "c" in only:
            todo.append(("c", lambda: run_c(cfg, device, precision, batch, args.warmup,
                                            args.steps, args.seed)))
        for key, run in todo:
            variants[key] = _guarded(run, device)
            _free(device)
    finally:
        torch.backends.cudnn.benchmark = saved_benchmark

    for key, v in variants.items():
        v["name"] = VARIANT_NAMES[key]
    a, b, c = variants.get("a"), variants.get("b"), variants.get("c")
    ratios = {"a/b": _ratio(a, b), "a/c": _ratio(a, c)}
    if "a_compiled" in variants:
        ratios["a_compiled/b"] = _ratio(variants["a_compiled"], b)
        ratios["a_compiled/c"] = _ratio(variants["a_compiled"], c)
    if memory is None:
        memory = {"batch": args.memory_batch, "peak_gib": None, "peak_gib_incl_warmup": None,
                  "oom": False, "precision": precision.name,
                  "error": "not measured on the CPU" if not on_gpu else "not requested"}
    mem_pass = None
    if memory["oom"]:
        mem_pass = False
    elif memory["peak_gib"] is not None:
        mem_pass = memory["peak_gib"] <= TARGET_MEMORY_GIB
    result = {
        "benchmark": "train_step",
        "device": _device_name(device),
        "device_type": device.type,
        "torch": torch.__version__,
        "cuda": torch.version.cuda if on_gpu else None,
        "cudnn": torch.backends.cudnn.version() if on_gpu else None,
        "cpu_threads": torch.get_num_threads(),
        "profile": profile,
        "config": cfg.to_dict(),
        "batch_size": batch,
        "steps": args.steps,
        "warmup": args.warmup,
        "precision": precision.name,
        "cudnn_benchmark": on_gpu,
        "optimizer": OPTIMIZER,
        "input": "uint8 (B, 1, S, S) on the device, converted to float in-step for (a) and "
                 "(b) (image normalised; parts cropped from the grey image, then normalised); "
                 "float inputs for (c)",
        "samples_per_s": {k: v["samples_per_s"] for k, v in variants.items()},
        "variants": variants,
        "ratios": ratios,
        "targets": {"a/b": TARGET_A_OVER_B, "a/c": TARGET_A_OVER_C,
                    "a_compiled/b": TARGET_COMPILED_OVER_B,
                    "peak_memory_gib": TARGET_MEMORY_GIB, "memory_batch": 16},
        "pass": {"a/b": _at_least(ratios["a/b"], TARGET_A_OVER_B),
                 "a/c": _at_least(ratios["a/c"], TARGET_A_OVER_C),
                 "a_compiled/b": _at_least(ratios.get("a_compiled/b"), TARGET_COMPILED_OVER_B),
                 "memory": mem_pass},
        "memory": memory,
        "peak_memory_gib_batch16": memory["peak_gib"] if memory["batch"] == 16 else None,
        "wall_seconds": time.perf_counter() - t_start,
    }
    print(format_table(result))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _at_least(ratio: Optional[float], target: float) -> Optional[bool]:
    return None if ratio is None else ratio >= target


def _fmt(x: Optional[float], spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def _verdict(ok: Optional[bool]) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[ok]


def format_table(r: Dict) -> str:
    cfg = r["config"]
    lines = [
        f"train step benchmark on {r['device']} (torch {r['torch']}), profile {r['profile']}: "
        f"{cfg['backbone']}, {cfg['image_size']} px, M = {cfg['num_parts']}, "
        f"K = {cfg['num_concat']}, batch {r['batch_size']}, {r['warmup']} warm-up + "
        f"{r['steps']} timed steps",
        f"{'variant':<44}{'prec':>6}{'samples/s':>12}{'ms/step':>10}{'peak GiB':>10}",
    ]
    for key, v in r["variants"].items():
        label = f"({key.replace('_compiled', chr(39))}) {v['name']}"
        if v["samples_per_s"] is None:
            lines.append(f"{label:<44}  {v.get('error')}")
            continue
        lines.append(f"{label:<44}{v['precision']:>6}{v['samples_per_s']:>12.2f}"
                     f"{v['ms_per_step']:>10.1f}{_fmt(v['peak_memory_gib']):>10}")
    t, p, rt = r["targets"], r["pass"], r["ratios"]
    lines.append(f"a/b = {_fmt(rt['a/b'])} (target >= {t['a/b']}) {_verdict(p['a/b'])}")
    lines.append(f"a/c = {_fmt(rt['a/c'])} (target >= {t['a/c']}) {_verdict(p['a/c'])}")
    if "a_compiled/b" in rt:
        lines.append(f"a'/b = {_fmt(rt['a_compiled/b'])} (target >= {t['a_compiled/b']}) "
                     f"{_verdict(p['a_compiled/b'])}")
        lines.append(f"a'/c = {_fmt(rt['a_compiled/c'])}")
    m = r["memory"]
    if m["oom"]:
        mem = f"OUT OF MEMORY ({m['error']})"
    elif m["peak_gib"] is None:
        mem = f"not measured ({m['error']})"
    else:
        mem = (f"{m['peak_gib']:.2f} GiB steady, {m['peak_gib_incl_warmup']:.2f} GiB "
               f"incl. warm-up")
    lines.append(f"peak memory of (a) at batch {m['batch']} ({m['precision']}): {mem} "
                 f"(target <= {t['peak_memory_gib']} GiB at batch 16) {_verdict(p['memory'])}")
    if r["device_type"] == "cpu":
        lines.append("note: CPU figures only check that the script runs; "
                     "the targets refer to the GPU at the paper profile")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
