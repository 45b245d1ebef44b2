"""The public API is exactly what ``__all__`` lists (after httpx's test_exported_members)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import smart_launch


def test_all_exports_are_importable_and_defined_here() -> None:
    exported_members = [member for member in dir(smart_launch) if not member.startswith("_")]
    modules = {module.name for module in pkgutil.iter_modules(smart_launch.__path__)}

    assert sorted(smart_launch.__all__) == sorted(set(exported_members) - modules)
    assert len(smart_launch.__all__) == len(set(smart_launch.__all__))
    for name in smart_launch.__all__:
        assert getattr(smart_launch, name) is not None


def test_every_public_name_of_every_module_is_exported() -> None:
    for module_info in pkgutil.iter_modules(smart_launch.__path__):
        module = importlib.import_module(f"smart_launch.{module_info.name}")
        for name in getattr(module, "__all__", ()):
            if name.isupper():
                continue  # constants stay in their module unless listed at the top
            assert name in smart_launch.__all__, f"smart_launch.{module_info.name}.{name}"


def test_package_imports_nothing_of_ours() -> None:
    package_dir = Path(smart_launch.__file__).parent
    imported: set[str] = set()
    for path in package_dir.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])

    assert "httpx" in imported
    assert not imported & {"app", "cds_hooks", "fastapi", "starlette"}
