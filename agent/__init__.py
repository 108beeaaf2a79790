"""The prompt agent ("帮我想一条" / "Help me write one"): short ideas in any language -> detailed
English CogVideoX prompts. Never imports gradio, torch, diffusers or cogvideo."""

from .agent import MODES, PromptAgent
from .errors import AgentError
from .suggestion import Suggestion

__all__ = ["MODES", "AgentError", "PromptAgent", "Suggestion"]
