"""Each dvc.yaml stage lists, as deps, all the library code its script runs.

A module missing from a stage's deps means `dvc repro` keeps that stage's old outputs after the
module changed (say, the luma weights behind grey SSIM), so the metrics would no longer match the
code. The code a stage runs is its script's static import closure inside `sketch2face`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def module_file(name: str) -> Path | None:
    path = SRC.joinpath(*name.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Every `sketch2face` module named by an import anywhere in the file, functions included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name.split(".")[0] == "sketch2face"}


def runs_code(path: Path) -> bool:
    """False for a package `__init__` that only holds a docstring and constants."""
    body = ast.parse(path.read_text()).body
    return any(not isinstance(statement, (ast.Expr, ast.Assign)) for statement in body)


def code_closure(script: Path) -> set[Path]:
    """The library files a script runs: its imports, theirs, and the packages they sit in."""
    found: set[Path] = set()
    pending = [script]
    while pending:
        for name in imported_modules(pending.pop()):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):
                path = module_file(".".join(parts[:depth]))
                if path is not None and path not in found:
                    found.add(path)
                    pending.append(path)
    return {path for path in found if runs_code(path)}


def stage_script(stage: dict) -> Path:
    return ROOT / re.search(r"python (stages/\S+\.py)", stage["cmd"]).group(1)


def test_closure_follows_imports_transitively_and_skips_empty_packages() -> None:
    closure = {path.relative_to(SRC).as_posix() for path in code_closure(stage_script(STAGES["train"]))}
    assert "sketch2face/training/run.py" in closure  # imported by the script
    assert "sketch2face/models/layers.py" in closure  # trainer -> generator -> layers
    assert "sketch2face/__init__.py" not in closure  # a docstring and __version__ only
    assert "sketch2face/data/faces.py" not in closure  # crop_resize's code is not training's


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_cover_the_code_it_runs(name: str) -> None:
    stage = STAGES[name]
    deps = [ROOT / dep for dep in stage["deps"]]
    code = {stage_script(stage)} | code_closure(stage_script(stage))
    uncovered = sorted(
        path.relative_to(ROOT).as_posix()
        for path in code
        if not any(path == dep or dep in path.parents for dep in deps)
    )
    assert not uncovered, f"dvc.yaml stage {name}: add to deps {uncovered}"
    unused = sorted(
        str(dep.relative_to(ROOT))
        for dep in deps
        if dep.is_relative_to(SRC) and not any(path == dep or dep in path.parents for path in code)
    )
    assert not unused, f"dvc.yaml stage {name}: deps {unused} hold no code the stage runs"


def test_crop_resize_warns_about_exactly_the_data_folders_it_does_not_depend_on():
    """The stage's list of tracked data folders is the one in dvc.yaml."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("crop_resize_stage", ROOT / "stages/crop_resize.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    data_deps = {Path(dep) for dep in STAGES["crop_resize"]["deps"] if dep.startswith("data/")}
    assert set(stage.DATA_DEPS) == data_deps
