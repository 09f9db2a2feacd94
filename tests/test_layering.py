"""The package's layering: no import cycle among HARP's modules, and no room importing one on a higher floor.

Imports are read with `ast`, those inside functions included: a function-local import may defer a
heavy or optional module for start-up speed, but it must not hide a cycle. The floors are the table
in docs/internals.md ("Floors"), read from there, so the page and this test cannot disagree.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "harp"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def room(module: str) -> str:
    """`harp.plan.facts` -> `plan`; `harp.logs` -> `logs`; the package's own __init__ -> `harp`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "harp"


def imports() -> set[tuple[str, str, bool]]:
    """(module, HARP module it imports, inside a function) for every import of the package; what
    `if TYPE_CHECKING:` imports is left out (it never runs)."""
    found = set()

    def resolve(name: str):
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        return name or None

    def visit(module: str, node, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                targets = [resolve(alias.name) for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                targets = [resolve(f"{child.module}.{alias.name}") for alias in child.names]
            else:
                targets = []
            found.update((module, target, local) for target in targets if target and target != module)
            visit(module, child, local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    for module, path in MODULES.items():
        visit(module, ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def cycles(edges) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, set] = {}
    for source, target, _ in edges:
        graph.setdefault(source, set()).add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def floors() -> dict[str, int]:
    """docs/internals.md's floor table: `| 2 | `rewards` | ... |` -> {"rewards": 2}."""
    text = (ROOT / "docs" / "internals.md").read_text(encoding="utf-8")
    table = text.split("### Floors", 1)[1]
    found = {}
    for number, rooms in re.findall(r"^\| (\d+) \| ([^|]+) \|", table, re.M):
        for name in re.findall(r"`([a-z_]+)`", rooms):
            found[name] = int(number)
    return found


def floor_of(module: str, table: dict[str, int]) -> int:
    """A room's `cli.py` holds its commands, which compose stages: it is on the floor of `cli`."""
    return table["cli"] if module.endswith(".cli") else table[room(module)]


def test_no_import_cycle_among_harp_modules_counting_function_local_imports():
    assert cycles(imports()) == []


def test_every_room_has_a_floor_and_no_import_goes_up():
    table = floors()
    assert {room(module) for module in MODULES} <= set(table), "a room without a floor in docs/internals.md"
    upward = sorted(
        f"{source} -> {target}" + (" (in a function)" if local else "")
        for source, target, local in imports()
        if floor_of(source, table) < floor_of(target, table)
    )
    assert upward == []


def test_the_checks_see_a_cycle_and_an_upward_import():
    """The checks themselves: a planted circle and a planted upward arrow are found."""
    planted = {("harp.plan.guide", "harp.plan.scene", False), ("harp.plan.scene", "harp.plan.guide", True)}
    assert cycles(planted) == [["harp.plan.guide", "harp.plan.scene"]]
    table = floors()
    assert floor_of("harp.logs", table) < floor_of("harp.models.load", table)
    assert floor_of("harp.rewards.cli", table) > floor_of("harp.data.records", table)
