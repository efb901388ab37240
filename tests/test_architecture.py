"""The folders show the architecture, and the scan below keeps it so: small modules and
functions, no import cycle (function-local imports count), and imports that flow one way,
results -> evaluation -> engine -> model / data -> config."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "arcnn_lib"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80

#: sub-package -> its layer; a module may import only from its own layer or lower ones
#: (``model`` and ``data`` are siblings that do not import each other).
LAYERS = {"config": 0, "model": 1, "data": 1, "engine": 2, "evaluation": 3, "results": 4,
          "book": 5, "__init__": 6, "__main__": 6}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    return {_module_name(p): p for p in sorted(LIB.rglob("*.py"))}


def _imports(name: str, path: Path, known):
    """The arcnn_lib modules ``name`` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("arcnn_lib")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("arcnn_lib"):
                continue
            subs = {f"{target}.{a.name}" for a in node.names} & set(known)
            found |= subs or {target}
    return {m for m in found if m in known and m != name}


def _graph():
    mods = _modules()
    return {name: _imports(name, path, mods) for name, path in mods.items()}


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS["__init__"] if len(parts) == 1 else LAYERS[parts[1]]


def test_modules_and_functions_are_small():
    too_long = []
    for name, path in _modules().items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {n} lines")
    assert not too_long, "too long: " + "; ".join(too_long)


def test_no_import_cycle():
    graph = _graph()
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_imports_flow_one_way():
    against = []
    for module, targets in _graph().items():
        for target in targets:
            if target == "arcnn_lib" or target.startswith(module + "."):
                continue
            same_package = target.split(".")[:2] == module.split(".")[:2]
            if not same_package and _layer(target) >= _layer(module) and _layer(module) < 6:
                against.append(f"{module} -> {target}")
    assert not against, "imports against the flow: " + "; ".join(sorted(against))


def test_the_scan_sees_what_it_checks():
    graph = _graph()
    assert "arcnn_lib.model.arcnn" in graph["arcnn_lib.model"]
    assert any(t.startswith("arcnn_lib.model") for t in graph["arcnn_lib.engine.run"])
    assert _layer("arcnn_lib.results.tables") > _layer("arcnn_lib.evaluation.metrics")
