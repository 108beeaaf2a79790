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


def test_no_function_is_longer_than_a_reader_can_hold():
    """150 lines at most, nested functions counted in their parent (issue 23): a long build reads as
    named steps instead."""
    long = []
    for path in sorted(ROOT.rglob("*.py")):
        if {".git", "test-artifacts"} & set(path.parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 150:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long


# The engine's rooms, lowest first: a module imports from its own room or one below it. The base
# (the request, errors, callbacks) is the floor; the studio, one request end to end, is the top.
ROOMS = ["base", "engine", "media", "catalogues", "studio"]


def engine_modules() -> dict[str, Path]:
    """cogvideo's modules by dotted name (packages by their __init__)."""
    modules = {}
    for path in (ROOT / "cogvideo").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def engine_uses(path: Path, modules: dict[str, Path]) -> set[str]:
    """The cogvideo modules a file imports (those for type checking only count as well)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("cogvideo"):
            for alias in node.names:  # `from cogvideo.engine import speed` names a module
                found.add(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("cogvideo"))
    return found & set(modules)


def room_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 and parts[1] in ROOMS:
        return parts[1]
    return "studio" if module in {"cogvideo", "cogvideo.studio", "cogvideo.__main__"} else "base"


def test_the_engines_rooms_point_down():
    modules = engine_modules()
    assert {room_of(m) for m in modules} == set(ROOMS), sorted(modules)
    wrong = [f"{name} ({room_of(name)}) imports {used} ({room_of(used)})"
             for name, path in sorted(modules.items()) for used in sorted(engine_uses(path, modules))
             if ROOMS.index(room_of(used)) > ROOMS.index(room_of(name))]
    assert not wrong, wrong


def test_the_engines_modules_import_each_other_without_a_circle():
    modules = engine_modules()
    uses = {name: engine_uses(path, modules) - {name} - {"cogvideo"} for name, path in modules.items()}

    def circle_from(start: str, path: list[str]) -> list[str] | None:
        for used in sorted(uses[path[-1]]):
            if used == start:
                return path + [start]
            if used not in path:
                found = circle_from(start, path + [used])
                if found:
                    return found
        return None

    circles = [" -> ".join(c) for c in (circle_from(name, [name]) for name in sorted(modules)) if c]
    assert not circles, circles


def test_no_script_is_named_like_one_of_our_packages():
    """A script's folder comes first on its path (and on its Ray workers'): bench/jobs.py was
    imported as the `jobs` package there."""
    clashes = [path.relative_to(ROOT).as_posix() for folder in ("bench", "scripts")
               for path in (ROOT / folder).glob("*.py") if path.stem in BELOW]
    assert not clashes, clashes


def test_the_page_and_the_apis_ask_the_studio_instead_of_the_engine():
    """What the faces show (the models and their sizes, the speed presets, the LoRAs) comes from
    `Studio` and the request's own module; the engine's modules stay behind it (issue 23)."""
    reaching = []
    for folder in ("ui", "api"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cogvideo.engine"):
                    reaching.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}")
                elif isinstance(node, ast.Attribute) and node.attr == "engine" \
                        and isinstance(node.value, ast.Attribute) and node.value.attr == "studio":
                    reaching.append(f"{path.relative_to(ROOT)}:{node.lineno} studio.engine")
    assert not reaching, reaching
