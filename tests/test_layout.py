"""The seam's import rules: clouds and runtimes meet only in PLATFORMS, through neutral modules.

- no cloud imports another cloud or any runtime; no runtime imports a cloud or another runtime;
- system modules (``stacks/<system>.py``) import no cloud, runtime or provider SDK;
- no two modules import each other (directly or in a longer circle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from offline.harness import ROOT

PACKAGES = ("components", "stacks", "policy", "offline")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = _module_name(path)
            found: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module)
                    found.update(f"{node.module}.{alias.name}" for alias in node.names)
            graph[name] = {m for m in found if m.split(".")[0] in PACKAGES}
    return graph


GRAPH = _imports()


def _area(module: str) -> str | None:
    """``clouds.aws``, ``runtimes.docker_host`` ... for modules inside a cloud or runtime folder."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[0] == "components" and parts[1] in {"clouds", "runtimes"}:
        return f"{parts[1]}.{parts[2]}"
    return None


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _area(m)))
def test_clouds_and_runtimes_import_only_themselves_and_neutral_modules(module: str) -> None:
    own = _area(module)
    foreign = sorted(m for m in GRAPH[module] if _area(m) not in (None, own))
    assert not foreign, f"{module} imports {foreign}; move what both need into a neutral module under components/"


def test_system_modules_assume_no_cloud_or_runtime() -> None:
    systems = [m for m in GRAPH if m.startswith("stacks.") and m.split(".")[1] not in {"config", "foundation"}]
    for module in systems:
        leaks = sorted(m for m in GRAPH[module] if _area(m) or m.startswith("components.platforms"))
        assert not leaks, f"{module} imports {leaks}"


def test_no_import_circles() -> None:
    modules = set(GRAPH)
    # A module's own parent packages run first anyway (``from policy import rules`` inside policy/): not a circle.
    edges = {m: {t for t in GRAPH[m] if t in modules and t != m and not m.startswith(f"{t}.")} for m in GRAPH}
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                circle = [*path[path.index(target) :], target] if target in path else [node, target]
                pytest.fail("import circle: " + " -> ".join(circle))
            if target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for module in sorted(modules):
        if module not in state:
            visit(module, [module])


def test_a_foreign_import_is_caught() -> None:
    assert _area("components.clouds.aws.cloud") == "clouds.aws"
    assert _area("components.runtimes.docker_on_vm.runtime") != _area("components.clouds.aws.cloud")
