"""CogVideoX Studio engine: text- and image-to-video on the open CogVideoX weights.

Never imports gradio or openai; the faces (app.py, the CLI) call `Studio.generate` and ask the
studio for what they show (its models and their sizes, the speed presets, the LoRAs); the types of
what it answers are exported here, so a face needs no engine module.
"""

from cogvideo.engine.models import Size, Variant
from cogvideo.engine.speed import SpeedPreset
from cogvideo.errors import StudioError
from cogvideo.request import VideoRequest
from cogvideo.studio import ProgressEvent, Studio, VideoResult

__all__ = ["ProgressEvent", "Size", "SpeedPreset", "Studio", "StudioError", "Variant", "VideoRequest", "VideoResult"]
