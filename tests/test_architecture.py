"""The rules of docs/architecture.md, checked on the source (imports read, not executed)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _graph_module():
    spec = importlib.util.spec_from_file_location("import_graph", DOCS / "import_graph.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


g = _graph_module()

#: The face: what users run and read. It reaches the rest only through these.
FACE = ("uqtwin.cli", "uqtwin.plot", "uqtwin.report", "uqtwin.export", "uqtwin.__main__")
FACE_MAY_IMPORT = ("uqtwin.results", "uqtwin.engine", "uqtwin.errors", "uqtwin.data",
                   "uqtwin.morphology", "uqtwin.solvers", *FACE)
#: Modules longer than this say why in their docstring ("... long because ...").
MAX_LINES = 400


def test_graph_tools_find_a_cycle_and_private_imports(tmp_path):
    """Known answers for the checker itself, on a made-up package."""
    pkg = tmp_path / "uqtwin"
    (pkg / "a").mkdir(parents=True)
    (pkg / "b").mkdir()
    for p in (pkg, pkg / "a", pkg / "b"):
        (p / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("from uqtwin.b.y import _hidden\n")
    (pkg / "b" / "y.py").write_text("def f():\n    from ..a import x\n")
    graph = g.package_graph(pkg)
    assert graph == {"uqtwin.a": {"uqtwin.b"}, "uqtwin.b": {"uqtwin.a"}}
    assert g.cycles(graph) == [["uqtwin.a", "uqtwin.b"]]
    private = [i for i in g.imports(pkg) if i.name and i.name.startswith("_")]
    assert [(i.source, i.target, i.name) for i in private] == [
        ("uqtwin.a.x", "uqtwin.b.y", "_hidden")]


def test_the_documented_graph_is_the_graph():
    doc = (DOCS / "architecture.md").read_text(encoding="utf-8")
    start = doc.index("flowchart TD")
    drawn = doc[start: doc.index("```", start)].strip()
    assert drawn == g.mermaid(g.package_graph()), (
        "docs/architecture.md is stale: paste the output of python docs/import_graph.py")


def test_no_cycle_between_packages():
    assert g.cycles(g.package_graph()) == []


def test_no_private_name_imported_across_modules():
    bad = [f"{i.source}:{i.line} imports {i.target}.{i.name}" for i in g.imports()
           if i.name and i.name.startswith("_") and not i.name.startswith("__")
           and i.target != i.source]
    assert bad == []


def test_no_quantity_imports_another_quantity():
    from uqtwin.quantities.registry import QUANTITIES

    quantity_modules = {q.compute.__module__ for q in QUANTITIES.values()}
    assert len(quantity_modules) >= 8
    bad = [f"{i.source}:{i.line} imports {i.target}" for i in g.imports()
           if i.source in quantity_modules and i.target in quantity_modules
           and i.target != i.source]
    assert bad == []


def test_face_imports_only_results_engine_and_public_api():
    bad = []
    for i in g.imports():
        if not i.source.startswith(FACE):
            continue
        if i.target == "uqtwin" or i.target.startswith(FACE_MAY_IMPORT):
            continue
        bad.append(f"{i.source}:{i.line} imports {i.target}")
    assert bad == []


@pytest.mark.parametrize("name", sorted(g.modules()))
def test_module_holds_one_idea(name):
    path = g.modules()[name]
    text = path.read_text(encoding="utf-8")
    n = text.count("\n")
    if n > MAX_LINES:
        doc = " ".join((ast.get_docstring(ast.parse(text)) or "").split())
        assert "long because" in doc, f"{path} has {n} lines and its docstring says not why"
