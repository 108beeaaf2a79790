"""Every import points down: the engine (cogvideo) and the prompt agent know only the bilingual
text; the job service knows the engine; the faces (the page, the APIs, the command line) know what
is below them and never each other. Imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BELOW = {
    "bilingual": set(),
    "cogvideo": {"bilingual"},
    "agent": {"bilingual"},
    "jobs": {"bilingual", "cogvideo"},
    "ui": {"bilingual", "cogvideo", "agent", "jobs"},
    "api": {"bilingual", "cogvideo", "agent", "jobs"},
    "cli": {"bilingual", "cogvideo", "agent", "jobs"},
}
# `python -m cogvideo` keeps its name: the entry point hands over to the command line, and no module
# imports it.
ENTRY_POINTS = {"cogvideo/__main__.py"}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found & set(BELOW)


def test_every_import_points_down():
    wrong = []
    for package, allowed in BELOW.items():
        files = [ROOT / "bilingual.py"] if package == "bilingual" else sorted((ROOT / package).rglob("*.py"))
        assert files, package
        for path in files:
            name = path.relative_to(ROOT).as_posix()
            if name in ENTRY_POINTS:
                continue
            up = imported_packages(path) - allowed - {package}
            if up:
                wrong.append(f"{name} imports {', '.join(sorted(up))}")
    assert not wrong, wrong


def test_the_command_keeps_its_name():
    assert imported_packages(ROOT / "cogvideo" / "__main__.py") == {"cli"}
