"""One source for a request's defaults (cogvideo/request.py): every face that takes a request field
offers that field's default, never a number of its own (the page and the named API, the command
line, MCP, and REST, where null means the default)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import anyio
import pytest

from cogvideo.request import DEFAULT_SPEED, DEFAULTS, OLD_PHOTO_MUSIC, VideoRequest

# The size and length default to the loaded model's (None in the request): the page shows that
# model's numbers.
FIELDS = {field.name for field in dataclasses.fields(VideoRequest)} - {"num_frames", "height", "width"}
# The faces say "none" where the request says None (no music), name the studio's default preset, and
# send no LoRA scales as an empty mapping (each LoRA at its own scale).
SAME = [("music", "none", None), ("speed", DEFAULT_SPEED, None), ("lora_scales", {}, None)]


def same_default(name: str, offered, mode: str = "t2v", model_guidance: float | None = None) -> bool:
    expected = OLD_PHOTO_MUSIC if (mode, name) == ("old_photo", "music") else getattr(DEFAULTS, name)
    # Guidance: None in the request means the model's own; the page's slider starts at the served
    # model's number (CogVideoX 6, Wan2.2 5), which Gradio's named API offers as its default.
    if name == "guidance_scale" and expected is None and offered == model_guidance:
        return True
    return offered == expected or (name, offered, expected) in SAME


@pytest.fixture()
def handlers(studio, tmp_path):
    from agent import PromptAgent
    from jobs import JobService, JobStore, LocalWorker
    from ui.handlers import Handlers

    service = JobService(JobStore(tmp_path / "data"), [LocalWorker(studio)], poll_s=0.2).start()
    yield Handlers(studio, PromptAgent(), service)
    service.close()


def test_the_page_and_the_named_api_offer_the_requests_defaults(handlers):
    from ui import words
    from ui.layout import PageConfig, build_demo

    # 先为黑白照片上色 is ticked only where the colorizer is installed (it says so when it is not).
    colorize = DEFAULTS.colorize and words.colorize_available(handlers.studio)
    engine = handlers.studio.engine
    demo = build_demo(handlers, PageConfig(t2v=engine.variant("t2v"), i2v=engine.variant("i2v"), lang=None))
    endpoints = demo.get_api_info()["named_endpoints"]
    checked = {}
    for api_name in ("/text_to_video", "/image_to_video", "/old_photo", "/video_to_video", "/extend_video"):
        assert api_name in endpoints, sorted(endpoints)
        for parameter in endpoints[api_name]["parameters"]:
            name = parameter["parameter_name"]
            if name == "colorize":
                assert parameter["parameter_default"] is colorize
            elif name in FIELDS and parameter.get("parameter_has_default"):
                mode = api_name.strip("/")
                assert same_default(name, parameter["parameter_default"], mode, handlers.studio.default_guidance), \
                    (api_name, name, parameter["parameter_default"])
                checked.setdefault(name, api_name)
    assert {"num_inference_steps", "guidance_scale", "seed", "music_volume", "strength", "extensions"} <= set(checked)


def test_the_command_line_offers_the_requests_defaults():
    from cli.main import _parser

    args = vars(_parser().parse_args(["generate", "--prompt", "a cat"]))
    # `--model` is the model the command loads, not a request's (None: the studio's).
    offered = {name: value for name, value in args.items() if name in FIELDS and name not in ("prompt", "model")}
    assert {"num_inference_steps", "guidance_scale", "seed", "music_volume", "strength", "extensions", "style",
            "negative_prompt"} <= set(offered)
    wrong = {name: value for name, value in offered.items() if not same_default(name, value)}
    assert not wrong, wrong


def test_the_mcp_tools_offer_the_requests_defaults(tmp_path, studio):
    from api.mcp import build_mcp
    from jobs import JobStore

    store = JobStore(tmp_path / "data")
    try:
        endpoint = build_mcp(SimpleNamespace(store=store), studio, agent=None)
        tools = {tool.name: tool for tool in anyio.run(endpoint.server.list_tools)}
    finally:
        store.close()
    checked = set()
    for name in ("generate_video", "restyle_video", "extend_video"):
        for field, schema in tools[name].input_schema["properties"].items():
            if field in FIELDS and "default" in schema and field != "prompt":
                assert same_default(field, schema["default"]), (name, field, schema["default"])
                checked.add(field)
    assert {"style", "music", "strength", "extensions", "crossfade"} <= checked


def test_rest_takes_null_for_every_default():
    from api.zhipu import VideoGenerationBody

    named = {name: field for name, field in VideoGenerationBody.model_fields.items() if name in FIELDS}
    assert {"num_inference_steps", "guidance_scale", "seed", "strength", "extensions"} <= set(named)
    assert all(field.default is None for name, field in named.items() if name != "prompt"), named
