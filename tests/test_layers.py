"""The package's layers, as docs/design.md ("Layers") states them, checked on its imports.

Every module's imports (at any depth of the module, so imports inside
functions count) are read with ``ast``; nothing is executed except the last
test, which runs the numeric and image layers in a fresh interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "quantize"

#: Each subpackage's layer; a module may import its own layer's modules and
#: lower layers only. image and compat stand side by side on the core.
LAYERS = {"errors": 0, "vocabulary": 0, "core": 1, "image": 2, "compat": 2, "io": 3, "run": 4, "cli": 5}
#: Modules at the top of the package that only name things of the layers.
FACADES = {"quantize", "quantize.__main__", "quantize.vq"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(importer: str, is_package: bool, level: int, target: str | None) -> str:
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if level:
        base = base[: len(base) - (level - 1)]
        return ".".join(base + ([target] if target else []))
    return target or ""


def imports_of(name: str, path: Path):
    """(imported module, imported names) for every import statement of a module."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    known = modules()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            source = resolve(name, is_package, node.level, node.module)
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if sub in known:  # ``from . import metrics``: a module
                    yield sub, []
                else:
                    yield source, [alias.name]


def graph():
    known = modules()
    edges = {}
    for name, path in known.items():
        edges[name] = {target for target, _ in imports_of(name, path)
                       if target in known and target != name}
    return edges


def layer(module: str):
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_every_module_has_a_layer():
    unplaced = [m for m in modules() if m not in FACADES and layer(m) is None]
    assert unplaced == []


def test_no_import_cycles():
    edges = graph()
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert cycles == []


def test_lower_layers_never_import_higher_ones():
    wrong = []
    for module, targets in graph().items():
        if module in FACADES:
            continue
        for target in targets:
            if target == "quantize":  # only the version may come from the package's top
                names = {n for t, ns in imports_of(module, modules()[module]) if t == target
                         for n in ns}
                if names - {"__version__"}:
                    wrong.append(f"{module} -> quantize: {sorted(names)}")
                continue
            if target in FACADES:
                continue
            if layer(target) > layer(module):
                wrong.append(f"{module} -> {target}")
            if {module.split(".")[1], target.split(".")[1]} == {"image", "compat"}:
                wrong.append(f"{module} -> {target} (side by side)")
    assert wrong == []


def test_private_names_stay_in_their_subpackage():
    known = modules()
    wrong = []
    for name, path in known.items():
        if name in FACADES:
            continue
        home = name.split(".")[1]
        tree = ast.parse(path.read_text(), str(path))
        # Names bound to modules of other subpackages (``from ..core import kmeans as _k``).
        foreign = {}
        for target, names in imports_of(name, path):
            if target in known and target not in FACADES and target.split(".")[1] != home:
                for private in (n for n in names if n.startswith("_") and not n.startswith("__")):
                    wrong.append(f"{name} imports {target}.{private}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = resolve(name, path.name == "__init__.py", node.level, node.module)
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    if sub in known and sub.split(".")[1] != home:
                        foreign[alias.asname or alias.name] = sub
            elif isinstance(node, ast.Import):  # import quantize.core.search as search
                for alias in node.names:
                    if (alias.asname and alias.name in known and alias.name not in FACADES
                            and alias.name.split(".")[1] != home):
                        foreign[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in foreign and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                wrong.append(f"{name} uses {foreign[node.value.id]}.{node.attr}")
    assert sorted(set(wrong)) == []


def test_the_numeric_and_image_layers_load_no_pillow_click_or_tqdm():
    code = """
import sys
import numpy as np
import quantize
from quantize.vq import kmeans2
rng = np.random.default_rng(0)
quantize.quantize_image(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8), 8)
quantize.quantize_image(rng.integers(0, 256, (40, 50, 4), dtype=np.uint8), 8)
quantize.KMeans(3, random_state=0).fit(rng.random((100, 2)))
kmeans2(rng.random((100, 2)), 3, seed=0)
print(sorted(m for m in ("PIL", "click", "tqdm") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("layer_name", ["core", "image", "compat"])
def test_the_numeric_layers_import_only_numpy_and_the_standard_library(layer_name):
    if not hasattr(sys, "stdlib_module_names"):
        pytest.skip("the standard library's module list needs Python 3.10")
    allowed = set(sys.stdlib_module_names) | {"numpy", "quantize"}
    found = set()
    for name, path in modules().items():
        if name.startswith(f"quantize.{layer_name}"):
            found |= {target.split(".")[0] for target, _ in imports_of(name, path)
                      if target and not target.startswith("quantize")}
    assert found - allowed == set()
