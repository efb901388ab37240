"""``python -m arcnn_lib train``: the command line of :func:`arcnn_lib.engine.trainer.train`.

Every flag is a field of :class:`~arcnn_lib.engine.config.TrainConfig`; bad values exit
with status 2 and a message naming the flag.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from ..config import PROFILES
from .config import TrainConfig
from .runtime import AMP_CHOICES
from .trainer import train


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m arcnn_lib train",
        description="Train AR-CNN (Liu et al., MICCAI 2019) or the single-stage baseline on "
                    "RSNA bone age data or the synthetic phantom. Under torchrun every process "
                    "trains one DDP replica; only rank 0 writes.")
    d = TrainConfig()
    p.add_argument("--data", required=True, help="data folder (any RSNA layout) or 'phantom'")
    p.add_argument("--out", required=True, help="run folder for metrics.csv, split.csv, *.pt")
    p.add_argument("--profile", default="smoke", help=f"one of {', '.join(PROFILES)} (default smoke)")
    p.add_argument("--sex", default="all", help="male | female (one model per sex, the paper) | "
                                                "all (sex as an input; default)")
    p.add_argument("--model", default="arcnn", help="arcnn | baseline (default arcnn)")
    p.add_argument("--epochs", type=int, help="epochs (default: the profile's)")
    p.add_argument("--batch-size", type=int, help="batch size per process (default: the profile's)")
    p.add_argument("--lr", type=float, help="peak learning rate of AdamW (default: the profile's)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--warmup-fraction", type=float, help="fraction of steps of linear warm-up")
    p.add_argument("--min-lr-fraction", type=float, default=d.min_lr_fraction)
    p.add_argument("--grad-clip", type=float, default=d.grad_clip, help="0 disables")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--split-seed", type=int, help="seed of the split alone (default: --seed)")
    p.add_argument("--num-parts", type=int, help="M, parts per image (default: the profile's)")
    p.add_argument("--num-concat", type=int, help="K <= M, parts in the concatenation")
    p.add_argument("--part-selection", default=d.part_selection,
                   help="global (the paper: best anchors of all levels) | per_level "
                        "(M / levels parts from each anchor scale)")
    p.add_argument("--shared-part-stats", dest="separate_part_stats", action="store_false",
                   help="one set of BatchNorm statistics for images and parts (the paper's)")
    p.add_argument("--separate-part-extractor", action="store_true",
                   help="give the parts an extractor of their own (an extension; the paper "
                        "shares one)")
    p.add_argument("--navigator-on-part-extractor", action="store_true",
                   help="with --separate-part-extractor: the navigator reads that extractor's "
                        "map of the whole image (an extension)")
    p.add_argument("--image-size", type=int, help="network input side; the profile's geometry "
                                                  "is scaled to it (default: the profile's)")
    p.add_argument("--part-source", default=d.part_source,
                   help="input (the paper: parts cut from the input) | native (an extension: "
                        "from a --native-size copy)")
    p.add_argument("--native-size", type=int, help="side of the native copy (part-source native)")
    p.add_argument("--amp", default="auto", help=f"{' | '.join(AMP_CHOICES)} (default auto)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--pretrained", action="store_true",
                   help="start from ImageNet weights (downloaded by torchvision)")
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--num-threads", type=int, help="torch CPU threads (default: all cores)")
    p.add_argument("--max-minutes", type=float, help="time budget; saves a resumable last.pt")
    p.add_argument("--stop-after-epochs", type=int, help="stop after N epochs of the schedule")
    p.add_argument("--val-every", type=int, default=d.val_every)
    p.add_argument("--log-every", type=int, default=d.log_every)
    p.add_argument("--resume", action="store_true", help="continue OUT/last.pt")
    p.add_argument("--overwrite", action="store_true", help="start afresh in a used OUT")
    p.add_argument("--phantom-n", type=int, default=d.phantom_n, help="images of --data phantom")
    p.add_argument("--phantom-seed", type=int, default=d.phantom_seed)
    p.add_argument("--split-fractions", type=float, nargs=3, default=list(d.split_fractions),
                   metavar=("TRAIN", "VAL", "TEST"))
    p.add_argument("--cache-dir", help="folder of the uint8 image cache")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> TrainConfig:
    """Parse and validate the command line into a resolved :class:`TrainConfig`.

    Errors exit with status 2 and a message naming the bad argument.
    """
    parser = build_parser()
    ns = parser.parse_args(argv)
    kw = vars(ns)
    kw["split_fractions"] = tuple(kw["split_fractions"])
    try:
        return TrainConfig(**kw).resolved()
    except (ValueError, FileNotFoundError) as e:
        parser.error(str(e))


def main(argv: Optional[Sequence[str]] = None) -> int:
    cfg = parse_args(argv)
    try:
        result = train(cfg)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if result.rank == 0:
        state = "interrupted (resume with --resume)" if result.interrupted else "done"
        print(f"{state}: {result.epochs_done} epochs, best val MAE "
              f"{result.best_val_mae:.3f} months (epoch {result.best_epoch}), "
              f"{result.seconds:.1f} s; checkpoints in {result.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
