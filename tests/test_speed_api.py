"""The speed choice through every face: the named API, Zhipu's REST `quality`, and MCP's `speed`."""

from __future__ import annotations

import time

import pytest

from api.zhipu import VideoGenerationBody, to_video_request
from cogvideo import Studio
from cogvideo.engine.render import Engine
from jobs import JobStore
from jobs.keys import ApiKeys
from tests.conftest import InProcessApp


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    return Studio(Engine("tiny"), output_dir=tmp_path_factory.mktemp("out"))


@pytest.mark.parametrize("fields, expected", [
    ({}, None),  # the server's default
    ({"quality": "quality"}, "quality"),
    ({"quality": "speed"}, "fast"),  # Zhipu's "speed" is our Fast preset
    ({"speed": "balanced"}, "balanced"),
    ({"speed": "lean"}, "lean"),  # TeaCache (issue 22)
    ({"speed": "balanced", "quality": "speed"}, "balanced"),  # ours wins when both are sent
])
def test_zhipu_quality_maps_to_our_presets(studio, fields, expected):
    request = to_video_request(VideoGenerationBody(prompt="a kite", **fields), studio, allow_fetch=False)
    assert request.speed == expected


def test_the_server_default_applies_when_a_caller_names_none(tmp_path):
    from cogvideo import VideoRequest

    fast = Studio(Engine("tiny"), output_dir=tmp_path, default_speed="fast")
    result = fast.generate(VideoRequest(prompt="a kite over a field", num_inference_steps=2))
    assert result.speed == "fast" and result.info()["speed"] == "fast"
    assert fast.generate(VideoRequest(prompt="a kite", num_inference_steps=2, speed="quality")).speed == "quality"


def test_speed_end_to_end_through_rest_and_the_named_api(tmp_path):
    from gradio_client import Client
    from zai import ZhipuAiClient

    store = JobStore(tmp_path / "data")
    key = ApiKeys(store).add("alice")[1]
    store.close()
    app = InProcessApp(tmp_path, data_dir=tmp_path / "data", extra_args=("--speed", "balanced"))
    try:
        zai = ZhipuAiClient(api_key=key, base_url=app.url + "api/paas/v4", max_retries=0)
        speedy = zai.videos.generations(model="tiny", prompt="a red kite", quality="speed", duration=1,
                                        extra_body={"num_inference_steps": 2})
        default = zai.videos.generations(model="tiny", prompt="a blue kite", duration=1,
                                         extra_body={"num_inference_steps": 2})
        client = Client(app.url, verbose=False)
        _video, info = client.predict(prompt="a green kite", num_inference_steps=2, num_frames=9, speed="fast",
                                      api_name="/text_to_video")
        assert info["speed"] == "fast"
        deadline = time.monotonic() + 120
        while zai.videos.retrieve_videos_result(id=default.id).task_status == "PROCESSING":
            assert time.monotonic() < deadline
            time.sleep(0.3)
        store = JobStore(tmp_path / "data")
        try:
            assert store.get(speedy.id).request["speed"] == "fast"
            assert store.get(speedy.id).info["speed"] == "fast"
            assert store.get(default.id).info["speed"] == "balanced"  # the app's --speed
        finally:
            store.close()
    finally:
        app.close()
