"""The package and ``requirements.txt`` declare the same dependencies, and the library
imports nothing that neither declares (a fresh machine installs only what they list)."""
import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9 / 3.10
    tomllib = pytest.importorskip("tomli")

# import name -> distribution name, where they differ
DISTRIBUTION = {"PIL": "pillow", "myst_nb": "jupyter-book"}


def _split(requirement: str):
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def requirements():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return dict(_split(l) for l in lines if l.strip() and not l.lstrip().startswith("#"))


def package_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        deps += extra
    return dict(_split(d) for d in deps)


def test_pyproject_and_requirements_agree():
    req = requirements()
    for name, spec in package_dependencies().items():
        assert name in req, f"pyproject.toml declares {name} but requirements.txt does not"
        assert req[name] == spec, (f"{name}: pyproject.toml says {spec!r}, "
                                   f"requirements.txt says {req[name]!r}")


def _third_party_imports():
    stdlib = set(sys.stdlib_module_names)
    found = {}
    for path in sorted((ROOT / "arcnn_lib").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0
                     else [])
            for name in names:
                top = name.split(".")[0]
                if top not in stdlib and top != "arcnn_lib":
                    found.setdefault(top, path.relative_to(ROOT))
    return found


def test_every_library_import_is_declared():
    declared = package_dependencies()
    for module, path in _third_party_imports().items():
        dist = DISTRIBUTION.get(module, module).lower().replace("_", "-")
        assert dist in declared, f"{path} imports {module}, which pyproject.toml does not declare"
