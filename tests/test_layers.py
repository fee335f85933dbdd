"""The package's imports point one way, down the layers of docs/design.md §3.1, and form no
circle: every import (at the top of a module or inside a function) is read from the source."""
import ast
from pathlib import Path

import sparseprop_gpu

PACKAGE = Path(sparseprop_gpu.__file__).parent
KERNELS = Path(sparseprop_gpu.kernels.__file__).parent

LAYERS = [
    ("kernels", "_version", "config", "options", "validate", "compiled", "text"),
    ("specification", "datasets"),
    ("engine",),
    ("runs",),
    ("storage", "reference"),
    ("distributed", "analysis", "bench", "training"),
    ("plotting", "cli", "__init__"),
]
LAYER = {name: depth for depth, names in enumerate(LAYERS) for name in names}


def modules():
    """(dotted name, path) of every module of the package (a package by its own name)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(("sparseprop_gpu",) + parts), path
    for path in sorted(KERNELS.glob("*.py")):
        yield f"sparseprop_gpu.kernels.{path.stem}", path


def imported(name, path):
    """The package modules that ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if base.startswith("sparseprop_gpu"):
                found.update(f"{base}.{alias.name}" for alias in node.names)
                found.add(base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sparseprop_gpu"))
    return found - {"sparseprop_gpu"}


def layer(module):
    """The layer of a dotted module name (its first part below the package; the package's
    own ``__init__`` is the top)."""
    parts = module.split(".")
    return LAYER["__init__"] if len(parts) == 1 else LAYER.get(parts[1])


def test_every_module_has_a_layer():
    unknown = {name for name, _ in modules() if layer(name) is None}
    assert not unknown, f"modules in no layer of LAYERS: {sorted(unknown)}"


def test_imports_point_down_the_layers():
    upward = []
    for name, path in modules():
        for target in imported(name, path):
            if layer(target) is not None and layer(target) > layer(name):
                upward.append(f"{name} -> {target}")
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_no_import_circles():
    names = dict(modules())
    graph = {name: {t for t in imported(name, path) if t in names and t != name}
             for name, path in names.items() if path.name != "__init__.py"}
    state = {}

    def visit(node, trail):
        if state.get(node) == "done":
            return None
        if state.get(node) == "open":
            return trail[trail.index(node):] + [node]
        state[node] = "open"
        for nxt in graph.get(node, ()):
            circle = visit(nxt, trail + [node])
            if circle:
                return circle
        state[node] = "done"
        return None

    for start in graph:
        circle = visit(start, [])
        assert circle is None, "an import circle: " + " -> ".join(circle)
