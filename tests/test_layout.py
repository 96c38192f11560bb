"""Static checks of the package layout (DESIGN.md, "Layout" and "The way data flows").

Read with ``ast`` only, nothing of skmm is imported:

* no module is over 700 lines (a longer one is doing two jobs);
* no import cycle between skmm modules;
* ``skmm/baselines`` never imports ``skmm.embedders``;
* ``skmm/inputs`` never imports torch; ``skmm/nn`` never imports pandas or sklearn.

The import graph has an edge for every ``import skmm...`` / ``from skmm... import``
(absolute or relative) anywhere in a module, inside functions too, except in an
``if TYPE_CHECKING:`` block, which never runs. ``from skmm.x import y`` is an edge to
module ``skmm.x.y`` when that is a module, else to ``skmm.x`` (its ``__init__.py``);
a name that a package's ``__init__`` re-exports lazily (a ``{"Name": "module"}``
table read by ``__getattr__``) is an edge to the module it names. The layering
rules follow the graph: a module breaks a rule when it, or any skmm module it
reaches, imports the forbidden thing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "skmm"
MAX_LINES = 700

TORCH = {"torch", "torchvision", "torchaudio", "skorch"}  # skorch imports torch
PANDAS_OR_SKLEARN = {"pandas", "sklearn", "skorch"}  # skorch imports sklearn


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports(tree: ast.AST):
    """Import nodes that can run: everywhere except the body of ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def lazy_exports(package: str) -> dict[str, str]:
    """Names a package ``__init__`` maps to modules in a module-level dict of strings."""
    path = MODULES.get(package)
    if path is None or not is_package(path):
        return {}
    exports = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if not isinstance(value, ast.Dict):
            continue
        for key, target in zip(value.keys, value.values):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)
                    and isinstance(target, ast.Constant) and isinstance(target.value, str)):
                continue
            for candidate in (target.value, f"{package}.{target.value}"):
                if candidate in MODULES:
                    exports[key.value] = candidate
                    break
    return exports


def resolve_from(node: ast.ImportFrom, current: str, path: Path) -> str | None:
    """The absolute module a ``from ... import`` reads from."""
    if node.level == 0:
        return node.module
    package = current if is_package(path) else current.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports_of(name: str) -> tuple[set[str], set[str]]:
    """(skmm modules, top-level third-party packages) that module ``name`` imports."""
    path = MODULES[name]
    internal, external = set(), set()
    for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                if target == "skmm" or target.startswith("skmm."):
                    while target not in MODULES and "." in target:
                        target = target.rpartition(".")[0]
                    internal.add(target)
                else:
                    external.add(target.partition(".")[0])
            continue
        base = resolve_from(node, name, path)
        if base is None:
            continue
        if not (base == "skmm" or base.startswith("skmm.")):
            external.add(base.partition(".")[0])
            continue
        exports = lazy_exports(base)
        for alias in node.names:
            if f"{base}.{alias.name}" in MODULES:
                internal.add(f"{base}.{alias.name}")
            elif alias.name in exports:
                internal.add(exports[alias.name])
            else:
                target = base
                while target not in MODULES and "." in target:
                    target = target.rpartition(".")[0]
                internal.add(target)
    internal.discard(name)
    return internal, external


@pytest.fixture(scope="module")
def graph():
    return {name: imports_of(name) for name in MODULES}


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a path that returns to its start) per strongly connected component."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = [0]

    def visit(v):  # Tarjan
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(set(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)

    cycles = []
    for component in components:
        start = min(component)
        # shortest path back to start inside the component (breadth first)
        previous, frontier, found = {start: None}, [start], None
        while frontier and found is None:
            nxt = []
            for v in frontier:
                for w in sorted(edges[v] & component):
                    if w == start:
                        found = v
                        break
                    if w not in previous:
                        previous[w] = v
                        nxt.append(w)
                if found is not None:
                    break
            frontier = nxt
        path, v = [], found
        while v is not None:
            path.append(v)
            v = previous[v]
        cycles.append(path[::-1] + [start])
    return cycles


def chain_to(graph, start: str, bad) -> list[str] | None:
    """A chain of skmm imports from ``start`` to a module for which ``bad(module)``."""
    previous, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            if bad(v):
                path = []
                while v is not None:
                    path.append(v)
                    v = previous[v]
                return path[::-1]
            for w in sorted(graph[v][0]):
                if w not in previous:
                    previous[w] = v
                    nxt.append(w)
        frontier = nxt
    return None


def under(package: str):
    return [m for m in MODULES if m == package or m.startswith(package + ".")]


# ---- the checks --------------------------------------------------------------------


def test_the_package_is_found():
    assert "skmm" in MODULES and len(MODULES) > 10


def test_no_module_over_700_lines():
    lengths = {str(p.relative_to(ROOT.parent)): len(p.read_text(encoding="utf-8").splitlines())
               for p in MODULES.values()}
    long = {path: n for path, n in sorted(lengths.items()) if n > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them along their jobs): {long}"


def test_no_import_cycle(graph):
    cycles = find_cycles({name: internal for name, (internal, _) in graph.items()})
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_baselines_never_import_embedders(graph):
    def is_embedders(m):
        return m == "skmm.embedders" or m.startswith("skmm.embedders.")

    found = {m: chain_to(graph, m, is_embedders) for m in under("skmm.baselines")}
    found = {m: " -> ".join(chain) for m, chain in found.items() if chain}
    assert not found, f"skmm.baselines imports skmm.embedders: {found}"


def test_inputs_never_import_torch(graph):
    found = {m: chain_to(graph, m, lambda v: graph[v][1] & TORCH) for m in under("skmm.inputs")}
    found = {m: " -> ".join(chain) + f" (imports {sorted(graph[chain[-1]][1] & TORCH)})"
             for m, chain in found.items() if chain}
    assert not found, f"skmm.inputs imports torch: {found}"


def test_nn_never_imports_pandas_or_sklearn(graph):
    found = {m: chain_to(graph, m, lambda v: graph[v][1] & PANDAS_OR_SKLEARN)
             for m in under("skmm.nn")}
    found = {m: " -> ".join(chain) + f" (imports {sorted(graph[chain[-1]][1] & PANDAS_OR_SKLEARN)})"
             for m, chain in found.items() if chain}
    assert not found, f"skmm.nn imports pandas or sklearn: {found}"


# ---- the checker checks itself -----------------------------------------------------


def test_find_cycles_reports_a_path():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(edges) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_type_checking_imports_are_not_edges():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import torch\nelse:\n    import numpy\n"
        "def f():\n    import pandas\n")
    names = {a.name for n in runtime_imports(tree) if isinstance(n, ast.Import) for a in n.names}
    assert names == {"numpy", "pandas"}
