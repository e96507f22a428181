"""The layers of chalicelib, read from the source with ast (local imports included):
schemas and models import no services, the aggregation package imports nothing else of
chalicelib, and no module of chalicelib reaches itself again through its imports. And what
`import app` loads: the routes, not the schemas, services and models a request needs."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "chalicelib"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def chalicelib_imports(path: Path) -> set[str]:
    """Every chalicelib module `path` imports, at any depth of the file (functions too).
    `from chalicelib.services import review` names the module chalicelib.services.review."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level-1 packages
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    return {module_name(p): chalicelib_imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One path per cycle found by a depth-first search (each back edge closes one)."""
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_graph_sees_local_imports():
    """The probe itself works: a function-level import is an edge (housekeeping imports its
    passes inside functions, to keep numpy out of the API function)."""
    assert "chalicelib.services.aggregator" in import_graph()["chalicelib.services.housekeeping"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_cycles_in_chalicelib():
    # A package's __init__ importing its own submodules is not a cycle of modules.
    graph = {m: {t for t in targets if not m.startswith(t + ".") and not t.startswith(m + ".")}
             for m, targets in import_graph().items()}
    assert cycles(graph) == []


def test_schemas_and_models_import_no_services():
    offenders = {m: sorted(t for t in targets if t.startswith("chalicelib.services"))
                 for m, targets in import_graph().items()
                 if m.startswith(("chalicelib.schemas", "chalicelib.models"))}
    assert {m: t for m, t in offenders.items() if t} == {}


def test_aggregation_imports_nothing_else_of_chalicelib():
    offenders = {m: sorted(t for t in targets if not t.startswith("chalicelib.aggregation"))
                 for m, targets in import_graph().items() if m.startswith("chalicelib.aggregation")}
    assert {m: t for m, t in offenders.items() if t} == {}


def test_import_app_registers_the_routes_without_their_schemas_services_or_models():
    """A Lambda's cold start serves one route: `import app` registers every route and imports
    what a request needs only when one comes (bench/coldstart.py measures the time)."""
    code = ("import sys, app; print(len(app.api.routes)); print(*sorted(sys.modules), sep='\\n')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    routes, *modules = out.stdout.split()
    deferred = ("chalicelib.schemas.", "chalicelib.services.", "chalicelib.models", "chalicelib.auth",
                "chalicelib.openapi", "pydantic.main", "pynamodb.models", "botocore.client", "numpy")
    assert int(routes) == (ROOT / "app.py").read_text().count("@api.route(")
    assert [m for m in modules if m.startswith(deferred)] == []
