"""Only plugin.py and saleor_support_plugin/saleor/ may import Saleor."""

import ast
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import saleor_support_plugin

PACKAGE_DIR = Path(saleor_support_plugin.__file__).parent
ALLOWED = {PACKAGE_DIR / "plugin.py"}
ALLOWED_DIR = PACKAGE_DIR / "saleor"


def _imports_saleor(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name == "saleor" or name.startswith("saleor.") for name in names):
            lines.append(node.lineno)
    return lines


def test_no_module_outside_the_boundary_imports_saleor():
    # given
    offenders = []
    # when
    for path in PACKAGE_DIR.rglob("*.py"):
        if path in ALLOWED or ALLOWED_DIR in path.parents:
            continue
        for line in _imports_saleor(ast.parse(path.read_text(), filename=str(path))):
            offenders.append(f"{path.relative_to(PACKAGE_DIR)}:{line}")
    # then
    assert offenders == []


def test_boundary_check_detects_a_saleor_import():
    assert _imports_saleor(ast.parse("from saleor.order.models import Order")) == [1]
    assert _imports_saleor(ast.parse("import saleor")) == [1]
    assert _imports_saleor(ast.parse("import saleor_support_plugin.conf")) == []
    assert _imports_saleor(ast.parse("from .saleor import readers")) == []


def test_every_module_outside_the_boundary_imports_without_saleor():
    # given a Python where importing `saleor` fails
    modules = [
        info.name
        for info in pkgutil.walk_packages(
            [str(PACKAGE_DIR)], prefix="saleor_support_plugin."
        )
        if info.name != "saleor_support_plugin.plugin"
        and not info.name.startswith("saleor_support_plugin.saleor.")
    ]
    script = (
        "import sys, importlib, django\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'saleor' or name.startswith('saleor.'):\n"
        "            raise ImportError('saleor is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "django.setup()\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print('ok', len(sys.modules))\n"
    )
    # when
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    # then
    assert result.returncode == 0, result.stderr
    assert len(modules) > 10
