"""The pinned requirements files and pyproject.toml's ranges describe the same packages."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import sketch2face

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(path: Path) -> dict[str, str]:
    """name -> pinned version of every `name==version` line (comments and `-r` includes skipped)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line).groups()
            found[canonicalize_name(name)] = version
    return found


def ranges(requirements: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(requirement.name): requirement for requirement in map(Requirement, requirements)}


@pytest.mark.parametrize(
    ("pinned", "declared"),
    [("requirements.txt", PROJECT["dependencies"]), ("requirements-dev.txt", PROJECT["optional-dependencies"]["dev"])],
)
def test_every_pin_sits_in_its_declared_range_and_nothing_is_left_out(pinned, declared):
    pinned_versions, declared_ranges = pins(ROOT / pinned), ranges(declared)
    assert pinned_versions.keys() == declared_ranges.keys()
    for name, version in pinned_versions.items():
        requirement = declared_ranges[name]
        assert requirement.specifier.contains(version), f"{pinned} pins {name}=={version} outside {requirement}"
        assert any(spec.operator == "<" for spec in requirement.specifier), f"{requirement} needs an upper bound"


def test_version_from_the_command_line_and_as_a_module():
    script = Path(sys.executable).parent / "sketch2face"  # installed beside this Python
    for command in ([str(script), "--version"], [sys.executable, "-m", "sketch2face", "--version"]):
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        assert output.strip() == f"sketch2face {sketch2face.__version__}"
