"""The import graph of ``uqtwin/``, read from the source (no imports executed).

``python docs/import_graph.py`` prints the package-level graph as a Mermaid diagram (the one
in ``docs/architecture.md``); ``tests/test_architecture.py`` uses the same functions to check
the rules of that document: no cycle between packages, no quantity importing another, no
import of another module's private name, a face that imports only the results, the engine
and the public API.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "uqtwin"


@dataclass(frozen=True)
class Import:
    """One ``from X import name`` (or ``import X``) in module ``source``, at ``line``."""

    source: str
    target: str
    name: str | None
    line: int


def module_name(path: Path, root: Path = ROOT) -> str:
    """Dotted name of a source file under ``root`` (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imports(root: Path = ROOT) -> Iterator[Import]:
    """Every import of a ``uqtwin`` module, module-level or inside functions."""
    for name, path in modules(root).items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = node.module or ""
                if node.level:  # relative import
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join([*base, target] if target else base)
                if target.split(".")[0] != "uqtwin":
                    continue
                for alias in node.names:
                    yield Import(name, target, alias.name, node.lineno)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "uqtwin":
                        yield Import(name, alias.name, None, node.lineno)


def unit_of(module: str) -> str:
    """The architectural unit of a module: ``uqtwin.<first level>``."""
    parts = module.split(".")
    return ".".join(parts[:2])


def package_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Edges between first-level units of ``uqtwin`` (``uqtwin.x`` → ``uqtwin.y``)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in imports(root):
        a, b = unit_of(imp.source), unit_of(imp.target)
        if a != b and b != "uqtwin":
            graph[a].add(b)
        elif b == "uqtwin" and a != "uqtwin" and imp.name not in (None, "__version__"):
            graph[a].add("uqtwin (public API)")
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            visit(v)
    return found


def mermaid(graph: dict[str, set[str]]) -> str:
    """The graph as a Mermaid flowchart (top to bottom, names without ``uqtwin.``)."""
    def short(n: str) -> str:
        return "public_api" if n.startswith("uqtwin (") else n.removeprefix("uqtwin.")

    lines = ["flowchart TD"]
    for a in sorted(graph):
        for b in sorted(graph[a]):
            lines.append(f"    {short(a)} --> {short(b)}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(mermaid(package_graph()))
