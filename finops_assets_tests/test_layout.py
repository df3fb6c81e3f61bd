"""The imports run one way: defs -> lib, never back; lib never imports Dagster; the product never
imports the dev tools (sample generator, benches, evaluations)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "finops_assets"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules_under(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules_under("lib"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_lib_is_pure_logic(path):
    forbidden = ("dagster", "finops_assets.defs", "finops_assets.resources", "finops_assets.cli", "finops_devtools")
    bad = sorted(m for m in imported_modules(path) if m.split(".")[0] == "dagster" or m.startswith(forbidden))
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


@pytest.mark.parametrize("path", modules_under("defs") + modules_under("resources"),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_product_never_imports_the_dev_tools(path):
    bad = sorted(m for m in imported_modules(path) if m.startswith("finops_devtools"))
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


def test_every_sql_file_sits_beside_the_domain_that_runs_it():
    assert not (PACKAGE / "sql").exists()
    domains = {p.parent.parent.name for p in PACKAGE.glob("lib/*/sql/*.sql")}
    assert domains == {"billing", "inputs", "detection", "routing", "analysis", "publishing"}
