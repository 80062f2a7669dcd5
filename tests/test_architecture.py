"""The layers as the README draws them: the library never imports its web apps, the search never
imports prompts, HTTP or Gradio, and no two modules import each other, however indirectly."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("gdp_zero", "ui")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function, resolved to absolute names."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_the_library_does_not_import_its_web_apps_or_gradio() -> None:
    for name, path in ((_module_name(p), p) for p in (ROOT / "gdp_zero").rglob("*.py")):
        if name.startswith("gdp_zero.cli"):
            continue  # the top layer: it starts the web apps
        bad = {m for m in _imports(path) if m.split(".")[0] in ("ui", "gradio")}
        assert not bad, f"{name} imports {sorted(bad)}"


def test_the_search_imports_no_prompts_http_or_gradio() -> None:
    for path in (ROOT / "gdp_zero" / "mcts").rglob("*.py"):
        bad = {m for m in _imports(path)
               if m.split(".")[0] in ("openai", "httpx", "gradio", "ui") or m.startswith(("gdp_zero.roles", "gdp_zero.llm"))}
        assert not bad, f"{_module_name(path)} imports {sorted(bad)}"


def test_nothing_imports_the_cli() -> None:
    for name, targets in _graph().items():
        if not name.startswith("gdp_zero.cli"):
            assert not {t for t in targets if t.startswith("gdp_zero.cli")}, f"{name} imports the CLI"


def test_no_import_cycles() -> None:
    graph = _graph()
    # A package's __init__ re-exporting its own modules is not a cycle between layers.
    edges = {m: {t for t in ts if not (m.startswith(t + ".") or t.startswith(m + "."))} for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in edges:
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_help_loads_no_command() -> None:
    code = ("import sys; from gdp_zero.cli import build_parser\n"
            "try:\n    build_parser(['--help']).parse_args(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('openai', 'gradio', 'scipy', 'pandas', 'numpy'))\n"
            "print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr


def _readme_tree() -> set[str]:
    """The paths the README's architecture tree names: each line's name under the folders above it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Architecture\n\n```\n", 1)[1].split("```", 1)[0]
    folders: list[str] = []
    named: set[str] = set()
    for line in block.splitlines():
        name = line.split()[0] if line.strip() else ""
        depth = (len(line) - len(line.lstrip())) // 2
        if not name or line.startswith(" " * 26):  # a description's second line
            continue
        folders = folders[:depth]
        named.add("".join(folders) + name)
        if name.endswith("/"):
            folders.append(name)
    return named


def test_the_readme_tree_names_every_module_and_only_real_files() -> None:
    named = _readme_tree()
    modules = {str(p.relative_to(ROOT)) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if p.name != "__init__.py"}
    assert not modules - named, f"modules the README's architecture tree leaves out: {sorted(modules - named)}"
    assert all((ROOT / path).exists() for path in named), sorted(p for p in named if not (ROOT / p).exists())
