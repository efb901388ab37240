"""The reference-reproduction command on a tiny phantom (arcnn_lib.results.reproduce)."""
from types import SimpleNamespace
import json

import pytest

from arcnn_lib.results import reproduce
from arcnn_lib.results.reference import load_reference



def test_two_runs_write_only_portable_small_results(phantom48, tmp_path, monkeypatch):
    monkeypatch.setenv("ARCNN_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    reproduce.main(["--data", str(phantom48), "--data-name", "phantom48", "--out", str(out),
                    "--work", str(tmp_path / "work"), "--profile", "smoke", "--epochs", "1",
                    "--only", "arcnn_male_k3,baseline_male", "--git-commit", "abc123",
                    "--jobs", "2", "--quiet"])          # two runs at once, in two processes
    names = {p.name for p in out.iterdir()}
    for run in ("arcnn_male_k3", "baseline_male"):
        assert {f"{run}.json", f"{run}_predictions.csv", f"{run}_history.csv"} <= names
    assert {"manifest.json", "tables.json", "phantom48_split.csv"} <= names
    assert not any(n.endswith(".pt") for n in names)          # checkpoints stay in --work
    for path in out.glob("*.json"):
        text = path.read_text()
        assert str(tmp_path) not in text, f"{path.name} holds a path of this machine"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["jobs"] == 2
    assert sorted(r["name"] for r in manifest["runs"]) == ["arcnn_male_k3", "baseline_male"]
    metrics = json.loads((out / "arcnn_male_k3.json").read_text())
    assert metrics["git_commit"] == "abc123" and metrics["train"]["epochs"] == 1
    assert len(metrics["mae_parts"]) == 6 and metrics["n"] > 0
    tables = json.loads((out / "tables.json").read_text())
    assert tables["table1_male_k"][0]["K"] == 3
    assert set(tables["table3_mae"]["baseline"]) == {"male"}
    ref = load_reference(out)
    assert ref.names == ["arcnn_male_k3", "baseline_male"]
    assert list(ref.runs["mae"].round(6)) == [round(metrics["mae"], 6),
                                             round(ref.metrics("baseline_male")["mae"], 6)]
    assert (out / "fig3_parts.png").stat().st_size > 1000
    md = (out / "tables.md").read_text()
    assert f"{tables['table3_mae']['arcnn']['male']:.2f}" in md and "4.32" in md
    assert "commit `abc123`" in md and str(tmp_path) not in md


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        reproduce.main(["--data", str(tmp_path / "nowhere")])
    with pytest.raises(SystemExit, match="--budget-minutes"):
        reproduce.main(["--data", str(tmp_path)])
    with pytest.raises(SystemExit, match="unknown runs"):
        reproduce.main(["--data", str(tmp_path), "--epochs", "1", "--only", "arcnn_k9"])
    with pytest.raises(SystemExit, match="positive integer"):
        reproduce.main(["--data", str(tmp_path), "--epochs", "0"])


def test_an_interrupted_run_is_not_written(phantom48, tmp_path, monkeypatch):
    # a budget of about a second caps the 50-epoch run: it stops early, nothing is written
    # for it, the manifest says the set is incomplete, and the command says which run stopped
    monkeypatch.setenv("ARCNN_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    with pytest.raises(SystemExit, match="arcnn_male_k3 was interrupted after"):
        reproduce.main(["--data", str(phantom48), "--data-name", "phantom48", "--out",
                        str(out), "--work", str(tmp_path / "work"), "--profile", "smoke",
                        "--epochs", "50", "--budget-minutes", "0.02",
                        "--only", "arcnn_male_k3,baseline_male", "--quiet"])
    assert not (out / "arcnn_male_k3.json").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["runs"] == []
    assert manifest["planned"] == ["arcnn_male_k3", "baseline_male"]
    assert [s["name"] for s in manifest["skipped"]] == ["arcnn_male_k3", "baseline_male"]
    assert manifest["skipped"][1]["reason"].startswith("not started")


def test_pretrained_reaches_every_run_and_the_manifest():
    args = reproduce.build_parser().parse_args(["--data", "phantom", "--pretrained"])
    for run in reproduce.RUNS:
        assert reproduce._train_config(args, run, epochs=1).pretrained is True
    plain = reproduce.build_parser().parse_args(["--data", "phantom"])
    assert reproduce._train_config(plain, reproduce.RUNS[0], epochs=1).pretrained is False
    manifest = reproduce._manifest(args, {"epochs": 1}, [])
    assert manifest["pretrained"] is True and manifest["command"].endswith("--pretrained")
    assert reproduce._manifest(plain, {"epochs": 1}, [])["pretrained"] is False
