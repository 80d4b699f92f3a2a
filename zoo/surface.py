"""Which parts of zoo a plugin's source uses, read from its syntax tree (nothing is run).

zoo's public surface is the package's namespace (``zoo.__all__``) and, for tests,
``zoo.testing``; every other ``zoo.*`` module is internal.  ``breaches`` finds each way
past that a plugin's source takes: ``import zoo.exec.local``, ``from zoo.data import X``,
``from zoo import internal_name``, ``zoo.bench.something``, ``importlib.import_module(
"zoo.x")``.  A plugin's own package (``own``: the built-ins' ``zoo.plugins``) is its own
to import.  ``zoo.testing.check_public_surface`` runs it over a plugin's files.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

PUBLIC_MODULES = ("zoo", "zoo.testing")
_DYNAMIC = ("import_module", "__import__")


def public_names() -> set[str]:
    import zoo

    return {*zoo.__all__, "testing"}


def _is_zoo(module: str) -> bool:
    return module == "zoo" or module.startswith("zoo.")


def _allowed(module: str, own: tuple[str, ...]) -> bool:
    return module in PUBLIC_MODULES or any(module == o or module.startswith(f"{o}.") for o in own)


def _zoo_aliases(tree: ast.AST) -> set[str]:
    """The local names bound to the zoo package (``import zoo``, ``import zoo as z``,
    ``import zoo.x`` binds ``zoo`` too)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "zoo":
                    names.add(alias.asname or "zoo")
                elif alias.name.startswith("zoo.") and not alias.asname:
                    names.add("zoo")
    return names


def breaches(source: str, own: Iterable[str] = (), filename: str = "<source>") -> list[str]:
    """Each use of zoo outside its public surface in ``source``, as ``FILE:LINE: what``."""
    own = tuple(own)
    public = public_names()
    tree = ast.parse(source, filename)
    aliases = _zoo_aliases(tree)
    found: list[tuple[int, str]] = []

    def module_used(node: ast.stmt | ast.expr, module: str) -> None:
        if _is_zoo(module) and not _allowed(module, own):
            found.append((node.lineno, f"imports {module} (internal)"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                module_used(node, alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "zoo":
                found += [(node.lineno, f"imports zoo.{a.name} (not in zoo.__all__)")
                          for a in node.names if a.name != "*" and a.name not in public]
            else:
                module_used(node, node.module)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in aliases and node.attr not in public \
                and not _allowed(f"zoo.{node.attr}", own) \
                and not any(o.startswith(f"zoo.{node.attr}.") for o in own):
            found.append((node.lineno, f"uses zoo.{node.attr} (not in zoo.__all__)"))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) \
                and getattr(node.func, "attr", getattr(node.func, "id", None)) in _DYNAMIC:
            module_used(node, node.args[0].value)
    return [f"{filename}:{line}: {what}" for line, what in sorted(found)]


def python_files(paths: Iterable[str | Path]) -> list[Path]:
    """The .py files among ``paths`` and under the folders among them, in order."""
    files: list[Path] = []
    for path in map(Path, paths):
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [f for f in files if "__pycache__" not in f.parts]
