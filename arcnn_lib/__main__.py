"""``python -m arcnn_lib <command> [args]``: one entry point for the command lines.

Each command is a module with ``main(argv) -> int``; ``python -m arcnn_lib <command> --help``
lists its flags.
"""
from __future__ import annotations

import importlib
import sys
from typing import Optional, Sequence

#: command name -> the module that implements it
COMMANDS = {
    "train": "arcnn_lib.engine.cli",
    "evaluate": "arcnn_lib.evaluation.evaluator",
    "reproduce": "arcnn_lib.results.reproduce",
    "ablation": "arcnn_lib.results.ablation",
    "phantom-study": "arcnn_lib.results.phantom_study",
    "fit-assembly": "arcnn_lib.results.fitted_assembly",
    "expert-regions": "arcnn_lib.results.expert_regions",
    "share-checkpoint": "arcnn_lib.engine.share_checkpoint",
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        given = f"unknown command {argv[0]!r}; " if argv and argv[0] not in ("-h", "--help") else ""
        print(f"{given}usage: python -m arcnn_lib {{{','.join(COMMANDS)}}} [args]", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    return importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
