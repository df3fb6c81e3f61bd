"""The imports run one way: defs -> lib, never back; lib never imports Dagster; the product never
imports the dev tools (sample generator, benches, evaluations)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "finops_assets"


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Every module the file imports, relative imports resolved against its own package."""
    package = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)[:-1]  # the module's package
    names = set()
    for node in ast.walk(ast.parse(source if source is not None else path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            if not node.module:  # `from .. import defs`: each name may be a module
                names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


FORBIDDEN_IN_LIB = ("finops_assets.defs", "finops_assets.resources", "finops_assets.cli", "finops_devtools")


def forbidden_in_lib(modules: set[str]) -> list[str]:
    """Dagster and its packages (dagster_postgres, dagster_shared, ...), the wiring and the dev tools."""
    return sorted(m for m in modules if m.split(".")[0].startswith("dagster") or m.startswith(FORBIDDEN_IN_LIB))


def modules_under(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules_under("lib"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_lib_is_pure_logic(path):
    bad = forbidden_in_lib(imported_modules(path))
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


@pytest.mark.parametrize("path", modules_under("defs") + modules_under("resources"),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_product_never_imports_the_dev_tools(path):
    bad = sorted(m for m in imported_modules(path) if m.startswith("finops_devtools"))
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


@pytest.mark.parametrize("source", [
    "import dagster_postgres", "from dagster_shared import check", "from ...defs import resources",
    "from ...resources.warehouse import FinopsWarehouse", "from ... import defs", "import finops_devtools.sample",
])
def test_the_purity_rule_sees_every_way_of_importing_the_wiring(source):
    path = PACKAGE / "lib" / "detection" / "pipeline.py"
    assert forbidden_in_lib(imported_modules(path, source)), source


def test_the_purity_rule_allows_lib_to_import_lib():
    path = PACKAGE / "lib" / "detection" / "pipeline.py"
    assert not forbidden_in_lib(imported_modules(path, "from ..common.sql import load_sql\nfrom . import charts"))


def test_every_sql_file_sits_beside_the_domain_that_runs_it():
    assert not (PACKAGE / "sql").exists()
    domains = {p.parent.parent.name for p in PACKAGE.glob("lib/*/sql/*.sql")}
    assert domains == {"billing", "inputs", "detection", "routing", "analysis", "publishing"}
