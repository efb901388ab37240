"""One public API: the names the README and the chapters use import from ``arcnn_lib``, and
``python -m arcnn_lib <command>`` dispatches to each command's ``main(argv)``."""
import dataclasses

import pytest

import arcnn_lib
from arcnn_lib.__main__ import COMMANDS, main


def test_the_public_names_import_from_the_package():
    from arcnn_lib import (ARCNN, ARCNNConfig, SingleStageRegressor, TrainConfig,  # noqa: F401
                           evaluate, train)
    for name in arcnn_lib.__all__:
        assert hasattr(arcnn_lib, name), name


def test_results_are_dataclasses_with_named_fields():
    train_fields = {f.name for f in dataclasses.fields(arcnn_lib.TrainResult)}
    assert {"out_dir", "best_val_mae", "best_epoch", "epochs_done", "interrupted", "history",
            "checkpoint", "last", "seconds", "precision", "world_size", "rank",
            "model"} == train_fields
    assert [f.name for f in dataclasses.fields(arcnn_lib.EvalResult)] == ["metrics",
                                                                         "predictions"]


def test_the_command_table(capsys):
    assert set(COMMANDS) == {"train", "evaluate", "reproduce", "ablation", "phantom-study",
                             "fit-assembly", "expert-regions", "share-checkpoint"}
    assert main([]) == 2 and "usage: python -m arcnn_lib" in capsys.readouterr().err
    assert main(["fly"]) == 2 and "unknown command 'fly'" in capsys.readouterr().err
    for command in COMMANDS:
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        assert done.value.code == 0
        assert f"python -m arcnn_lib {command}" in capsys.readouterr().out
