"""Imports only point down the layers: a lower layer never imports from a higher one.

stages and app -> training / evaluation / inference -> models / data / tracking -> config /
artifacts / io / errors / colour. Within a layer, training, evaluation and inference stay independent.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "sketch2face"
# what each part of the package may import from sketch2face, besides itself
FOUNDATION = {"config", "artifacts", "io", "errors", "colour"}
ALLOWED = {
    "config": set(),
    "colour": set(),  # colour names and CIELAB: the generator parses hints with it, also unpickled in MLflow
    "artifacts": set(),
    "io": set(),
    "errors": set(),
    "data": FOUNDATION | {"models"},  # data/dataset.py uses the generator's pixel range
    "models": FOUNDATION,
    "tracking": FOUNDATION | {"models"},
    "stage": FOUNDATION | {"data"},
    "evaluation": FOUNDATION | {"data", "models", "tracking"},
    "training": FOUNDATION | {"data", "models", "tracking", "evaluation"},  # validation scores with evaluation.metrics
    "inference": FOUNDATION | {"data", "models", "tracking"},
    "cli": FOUNDATION | {"data", "models", "tracking", "inference", "training", "app", "stage"},
    "app": FOUNDATION | {"data", "models", "tracking", "inference", "training"},
    "__main__": {"cli"},
    "__init__": set(),
}


def part(module: str) -> str:
    """`sketch2face.data.align` -> `data`; `sketch2face` itself -> `__init__`."""
    names = module.split(".")
    return names[1] if len(names) > 1 else "__init__"


def is_module(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def imported_parts(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            if node.module == "sketch2face":  # `from sketch2face import tracking` names a module, `__version__` not
                modules += [f"sketch2face.{alias.name}" for alias in node.names if is_module(alias.name)]
        found |= {part(module) for module in modules if module.split(".")[0] == "sketch2face"}
    return found


FILES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=[str(path.relative_to(PACKAGE)) for path in FILES])
def test_imports_point_down(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    assert own in ALLOWED, f"{own}: place it in a layer (ALLOWED in this test)"
    upward = imported_parts(path) - ALLOWED[own] - {own, "__init__"}
    assert not upward, f"{path.relative_to(PACKAGE)} imports {sorted(upward)}, above or beside its layer"
