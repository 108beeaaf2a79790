"""The prompt agent ("帮我想一条" / "Help me write one"): short ideas in any language -> detailed
prompts (English for CogVideoX; the user's language for a model that reads Chinese, such as Wan),
by a service, a local model or templates. Never imports gradio,
diffusers or cogvideo; torch and transformers only inside the local backend, when it first runs."""

from .agent import MODES, PromptAgent
from .backends import VideoModel
from .errors import AgentError
from .suggestion import Suggestion

__all__ = ["MODES", "AgentError", "PromptAgent", "Suggestion", "VideoModel"]
