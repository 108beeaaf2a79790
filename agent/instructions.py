"""Load the agent's text data from agent/prompts/: system prompts, theme hints, offline ideas.

The files are product copy written by us; they are read once and checked at start-up so a missing
or empty file stops the app with its name instead of failing on the first click.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .errors import AgentError

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"

# System prompt names, one file each: <name>.txt. The first five write video prompts; `translate`
# turns a prompt the user typed into English (on Generate), `gloss` says in Chinese what an
# English prompt will show.
SYSTEM_PROMPTS = ("t2v", "t2v-empty", "i2v", "i2v-empty", "old-photo", "translate", "gloss")
# The prompts that write for a video model, once more per family whose model is prompted otherwise:
# agent/prompts/<family>/. Wan's are ours, written after its authors' prompt-extension advice (the
# Wan2.1 README, "Prompt Extension": subject, scene, motion, camera and style in detail, 80–100
# words) for an encoder that reads Chinese, so they write in the user's language.
WRITING_PROMPTS = SYSTEM_PROMPTS[:5]
FAMILY_PROMPTS = ("wan",)


@dataclass(frozen=True)
class Instructions:
    system: dict[str, str]  # name in SYSTEM_PROMPTS -> system prompt text (CogVideoX's: English only)
    themes: tuple[str, ...]  # broad theme hints that vary the "empty box" ideas online
    ideas: tuple[str, ...]  # concrete scene ideas for the offline expander
    ideas_zh: tuple[str, ...] = ()  # the same in Chinese, for a model that reads it
    families: dict[str, dict[str, str]] = field(default_factory=dict)  # family -> its WRITING_PROMPTS

    def prompt(self, name: str, family: str = "cogvideox") -> str:
        """The system prompt `name` for a model of `family` (its own where it has one)."""
        return self.families.get(family, {}).get(name) or self.system[name]


@lru_cache(maxsize=1)
def load_instructions() -> Instructions:
    """Read and validate every file; raise `AgentError` naming the first bad one."""
    system = {name: _read(f"{name}.txt") for name in SYSTEM_PROMPTS}
    families = {family: {name: _read(f"{family}/{name}.txt") for name in WRITING_PROMPTS} for family in FAMILY_PROMPTS}
    themes = tuple(_lines("themes.txt"))
    ideas = tuple(_lines("ideas.txt"))
    return Instructions(system=system, themes=themes, ideas=ideas, ideas_zh=tuple(_lines("ideas-zh.txt")),
                        families=families)


def _read(filename: str) -> str:
    path = PROMPTS_DIR / filename
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise AgentError(
            f"The prompt agent cannot read {path}: {err.strerror or err}. Reinstall the app files.",
            f"提示词助手无法读取 {path}：{err.strerror or err}。请重新安装应用文件。",
        ) from err
    if not text:
        raise AgentError(
            f"The prompt agent file {path} is empty. Reinstall the app files.",
            f"提示词助手文件 {path} 是空的。请重新安装应用文件。",
        )
    return text


def _lines(filename: str) -> list[str]:
    """Non-empty lines that are not `#` comments."""
    lines = [line.strip() for line in _read(filename).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]
