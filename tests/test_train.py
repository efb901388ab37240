"""The training engine: argument validation, outputs, exact resume, SIGINT, baseline, DDP.

All runs here are tiny (a 48-image phantom, smoke profile, 1-2 epochs of a few steps); the
slow acceptance run lives in ``test_train_acceptance.py``.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from arcnn_lib.engine import optim
from arcnn_lib.engine.config import PROFILE_DEFAULTS
from arcnn_lib.engine import checkpoint as C
from arcnn_lib.engine.runtime import StopFlag, select_precision
from arcnn_lib.data.loader import EpochOrder
from arcnn_lib import TrainConfig, train
from arcnn_lib.engine.cli import main, parse_args

from engine_fixtures import TINY_N, TINY_SEED

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("argv, message", [
    (["--data", "no/such/folder", "--out", "o"], "no/such/folder"),
    (["--data", "phantom", "--out", "o", "--profile", "huge"],
     "known profiles: smoke, demo, gpu, paper"),
    (["--data", "phantom", "--out", "o", "--num-concat", "7"], "K <= M = 6"),
    (["--data", "phantom", "--out", "o", "--num-parts", "2", "--num-concat", "3"], "K <= M = 2"),
    (["--data", "phantom", "--out", "o", "--num-parts", "0"], "num_parts (M) must be >= 1"),
    (["--data", "phantom", "--out", "o", "--sex", "both"], "male, female, all"),
    (["--data", "phantom", "--out", "o", "--model", "vgg"], "arcnn, baseline"),
    (["--data", "phantom", "--out", "o", "--epochs", "0"], "epochs must be a positive integer"),
    (["--data", "phantom", "--out", "o", "--batch-size", "-4"], "batch_size must be"),
    (["--data", "phantom", "--out", "o", "--lr", "0"], "lr must be positive"),
    (["--data", "phantom", "--out", "o", "--amp", "fp8"], "auto, bf16, fp16, fp32"),
    (["--data", "phantom", "--out", "o", "--split-fractions", "0.5", "0.5", "0.5"],
     "split_fractions"),
    (["--data", "phantom", "--out", "o", "--resume", "--overwrite"], "exclude each other"),
    (["--data", "phantom", "--out", "o", "--part-selection", "random"], "part_selection"),
    (["--data", "phantom"], "--out"),
    (["--data", "phantom", "--out", "o", "--epochs", "two"], "invalid int value"),
])
def test_bad_arguments_exit_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_resume_without_checkpoint_and_reused_out_are_refused(tiny, capsys):
    out = tiny["out"]
    common = ["--data", "phantom", "--phantom-n", str(TINY_N), "--phantom-seed", str(TINY_SEED),
              "--cache-dir", tiny["cache_dir"], "--batch-size", "8", "--epochs", "1",
              "--no-progress", "--out", out]
    assert main(common + ["--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert main(common) == 0
    assert main(common) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(common + ["--overwrite"]) == 0


def test_profile_defaults_and_overrides():
    cfg = TrainConfig.for_profile("smoke", data="phantom", out="o")
    assert (cfg.epochs, cfg.batch_size, cfg.lr) == tuple(
        PROFILE_DEFAULTS["smoke"][k] for k in ("epochs", "batch_size", "lr"))
    cfg = TrainConfig.for_profile("paper", data="phantom", out="o", epochs=3, sex="male")
    assert cfg.epochs == 3 and cfg.model_config().image_size == 448
    assert not cfg.model_config().use_sex
    assert TrainConfig.for_profile("smoke", sex="all").model_config().use_sex
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


# ---------------------------------------------------------------------------- pieces
def test_lr_schedule_warmup_then_cosine():
    f = optim.lr_lambda(100, 0.1, 0.01)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0)
    vals = [f(s) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(vals, vals[1:]))
    assert f(100) == pytest.approx(0.01)


def test_epoch_order_is_seeded_and_shards_cover_the_epoch():
    rows = np.arange(10, 33)
    one = EpochOrder(rows, 4, seed=5)
    assert [b.tolist() for b in one.batches(2)] == [b.tolist() for b in one.batches(2)]
    assert one.epoch_rows(0).tolist() != one.epoch_rows(1).tolist()
    shards = [EpochOrder(rows, 4, seed=5, rank=r, world_size=2) for r in range(2)]
    a, b = (s.epoch_rows(3) for s in shards)
    assert len(a) == len(b) == 12  # 23 rows padded to 24
    assert set(a) | set(b) == set(rows)
    assert len(shards[0].batches(3)) == len(shards[1].batches(3)) == 3
    ev = [EpochOrder(rows, 4, shuffle=False, drop_last=False, rank=r, world_size=2)
          for r in range(2)]
    got = np.concatenate([np.concatenate(e.batches(0)) for e in ev])
    assert sorted(got.tolist()) == rows.tolist()  # evaluation: every row exactly once


def test_precision_on_cpu_is_fp32_and_fp16_is_refused():
    cpu = torch.device("cpu")
    p = select_precision(cpu)
    assert p.name == "fp32" and not p.uses_scaler and not p.grad_scaler().is_enabled()
    with pytest.raises(ValueError, match="only supported on CUDA"):
        select_precision(cpu, "fp16")
    with pytest.raises(ValueError, match="auto, bf16, fp16, fp32"):
        select_precision(cpu, "half")


# ---------------------------------------------------------------------------- runs
def test_one_epoch_writes_metrics_split_and_checkpoints(tiny):
    res = train(TrainConfig(**tiny))
    out = Path(res.out_dir)
    assert {"metrics.csv", "split.csv", "last.pt", "best.pt", "train_config.json"} <= \
        {p.name for p in out.iterdir()}
    hist = pd.read_csv(out / "metrics.csv")
    expected = ["epoch", "train_loss", "train_cls", "train_att", "train_mae", "val_mae",
                "val_mae_x", "val_mae_concat"] + [f"val_mae_part{i}" for i in range(1, 7)] + \
               ["lr", "seconds"]
    assert list(hist.columns) == expected and hist["epoch"].tolist() == [1]
    assert np.isfinite(hist.drop(columns="epoch").to_numpy()).all()
    ck = torch.load(out / "best.pt", weights_only=True)
    assert ck["epoch"] == 1 and ck["model_kind"] == "arcnn"
    assert ck["model_config"]["use_sex"] is True  # --sex all: sex is an input
    assert res.best_val_mae == pytest.approx(hist["val_mae"].iloc[0], rel=1e-5)
    split = pd.read_csv(out / "split.csv", dtype=str)
    assert set(split["split"]) == {"train", "val", "test"} and len(split) == TINY_N


def test_split_seed_fixes_the_split_while_seed_varies(tiny, tmp_path):
    """Seeds 0 and 1 with split_seed 0 share one split; seed 1 alone draws another."""
    base = {**tiny, "stop_after_epochs": 1, "val_every": 1}
    splits = {}
    for name, over in (("s0", dict(seed=0)), ("s1_split0", dict(seed=1, split_seed=0)),
                       ("s1", dict(seed=1))):
        res = train(TrainConfig(**{**base, **over, "out": str(tmp_path / name)}))
        splits[name] = pd.read_csv(Path(res.out_dir) / "split.csv", dtype=str)
    pd.testing.assert_frame_equal(splits["s0"], splits["s1_split0"])
    assert not splits["s0"].equals(splits["s1"])
    with pytest.raises(ValueError, match="split_seed"):
        TrainConfig(split_seed="zero").resolved()


def _states_equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_after_one_epoch_equals_two_epochs_straight(tiny, tmp_path):
    kw = {**tiny, "epochs": 2}
    first = train(TrainConfig(**{**kw, "out": str(tmp_path / "a"), "stop_after_epochs": 1}))
    assert first.epochs_done == 1
    train(TrainConfig(**{**kw, "out": str(tmp_path / "a"), "resume": True}))
    train(TrainConfig(**{**kw, "out": str(tmp_path / "b")}))
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    _states_equal(a["model"], b["model"])
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        _states_equal(sa, sb)
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"]
    ha, hb = (pd.read_csv(tmp_path / r / "metrics.csv").drop(columns="seconds") for r in "ab")
    pd.testing.assert_frame_equal(ha, hb)


def test_stop_flag_catches_a_real_sigint_and_restores_the_handler():
    before = signal.getsignal(signal.SIGINT)
    with StopFlag() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGINT)  # delivered here: the handler only sets the flag
        assert stop.requested and stop.signum == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is before


def test_stop_mid_epoch_saves_and_resumes_exactly(tiny, tmp_path):
    # A stop request (SIGINT / SIGTERM or the time budget) is checked after every step; a
    # budget already spent by the first step stops the epoch there, as a signal would.
    kw = {**tiny, "epochs": 2}
    res = train(TrainConfig(**{**kw, "out": str(tmp_path / "a"), "max_minutes": 1e-9}))
    assert res.interrupted and res.epochs_done == 0
    saved = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    assert (saved["epoch"], saved["step_in_epoch"]) == (0, 1)
    train(TrainConfig(**{**kw, "out": str(tmp_path / "a"), "resume": True}))
    train(TrainConfig(**{**kw, "out": str(tmp_path / "b")}))
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    _states_equal(a["model"], b["model"])


def test_baseline_for_one_sex_trains(tiny):
    res = train(TrainConfig(**{**tiny, "model": "baseline", "sex": "male"}))
    ck = torch.load(res.checkpoint, weights_only=True)
    assert ck["model_kind"] == "baseline" and ck["model_config"]["use_sex"] is False
    hist = res.history
    assert "val_mae_x" in hist and "val_mae_part1" not in hist
    assert (hist["train_att"] == 0).all()


# ---------------------------------------------------------------------------- DDP
_DRIVER = textwrap.dedent("""
    import json, os, sys
    import torch
    import arcnn_lib.engine.checkpoint as C
    import arcnn_lib.engine.runtime as E
    from arcnn_lib import TrainConfig, train

    writes = []
    save = C.save_atomic
    def counting_save(obj, path):
        writes.append(str(path))
        return save(obj, path)
    C.save_atomic = counting_save
    write_csv = E.MetricsLog._write
    def counting_write(self):
        writes.append(str(self.path))
        return write_csv(self)
    E.MetricsLog._write = counting_write

    res = train(TrainConfig(**json.loads(sys.argv[1])))
    rank, dest = int(os.environ["RANK"]), sys.argv[2]
    torch.save(res.model.state_dict(), os.path.join(dest, f"rank{rank}.pt"))
    with open(os.path.join(dest, f"rank{rank}.json"), "w") as f:
        json.dump({"writes": writes, "world_size": res.world_size}, f)
""")


def test_ddp_two_cpu_processes(tiny, tmp_path):
    driver = tmp_path / "driver.py"
    driver.write_text(_DRIVER)
    kw = {**tiny, "num_threads": 1, "out": str(tmp_path / "run")}
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(driver), json.dumps(kw), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert info[0]["world_size"] == info[1]["world_size"] == 2
    assert info[1]["writes"] == []  # rank 1 wrote nothing
    assert any(w.endswith("last.pt") for w in info[0]["writes"])
    assert any(w.endswith("metrics.csv") for w in info[0]["writes"])
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    _states_equal(w0, w1)
    ck = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert ck["world_size"] == 2
    _states_equal(ck["model"], w0)
    assert len(pd.read_csv(tmp_path / "run" / "metrics.csv")) == 1


def test_pretrained_reaches_the_model_config():
    from arcnn_lib import TrainConfig
    from arcnn_lib.engine.cli import parse_args
    cfg = TrainConfig.for_profile("demo", data="phantom", pretrained=True)
    assert cfg.model_config().pretrained is True
    assert parse_args(["--data", "phantom", "--profile", "demo", "--pretrained",
                       "--out", "x"]).pretrained is True
    with pytest.raises(ValueError, match="no pretrained weights"):
        TrainConfig.for_profile("smoke", data="phantom", pretrained=True)
