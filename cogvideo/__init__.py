"""CogVideoX Studio engine: text- and image-to-video on the open CogVideoX weights.

Never imports gradio or openai; the faces (app.py, the CLI) call `Studio.generate`.
"""

from cogvideo.errors import StudioError
from cogvideo.request import VideoRequest
from cogvideo.studio import ProgressEvent, Studio, VideoResult

__all__ = ["ProgressEvent", "Studio", "StudioError", "VideoRequest", "VideoResult"]
