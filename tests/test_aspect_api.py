"""Aspect ratio through the API faces, against `python app.py --model tiny`: REST with Zhipu's own
SDK (`zai-sdk`: `size` and `aspect_ratio`), MCP with the `mcp` client, and the named API with
gradio_client."""

from __future__ import annotations

import httpx
import pytest

from cogvideo.media import codec
from jobs import JobStore
from jobs.keys import ApiKeys
from tests.conftest import InProcessApp
from tests.test_api import error_of, post, wait_done, zai

FAST = {"num_inference_steps": 2}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("aspect-api")
    store = JobStore(tmp / "data")
    alice = ApiKeys(store).add("alice")[1]
    store.close()
    app = InProcessApp(tmp, data_dir=tmp / "data")
    app.keys = {"alice": alice}
    app.base = app.url + "api/paas/v4"
    yield app
    app.close()


def size_of(url: str, tmp_path) -> tuple[int, int]:
    path = tmp_path / "video.mp4"
    path.write_bytes(httpx.get(url, timeout=30).content)
    info = codec.probe(path)
    return info.width, info.height


@pytest.mark.parametrize("fields", [{"aspect_ratio": "9:16"}, {"size": "80x144"},
                                    {"size": "80x144", "aspect_ratio": "9:16"}])
def test_a_portrait_video_through_zai_sdk(server, tmp_path, fields):
    client = zai(server)
    task = client.videos.generations(model="cogvideox", prompt="a tall lighthouse at dawn", duration=1,
                                     extra_body=FAST, **fields)
    result = wait_done(client, task.id)
    assert result.task_status == "SUCCESS"
    assert size_of(result.video_result[0].url, tmp_path) == (80, 144)


def test_unsupported_sizes_get_a_400_listing_the_allowed_ones(server):
    from zai.core import APIRequestFailedError

    allowed = "144×96 (3:2), 144×80 (16:9), 80×144 (9:16), 96×96 (1:1)"
    with pytest.raises(APIRequestFailedError) as err:
        zai(server).videos.generations(model="cogvideox", prompt="x", aspect_ratio="4:3")
    assert "4:3" in str(err.value) and allowed in str(err.value)
    # No Accept-Language: both languages; each language alone when asked.
    status, code, message = error_of(post(server, {"model": "cogvideox", "prompt": "x", "size": "770x144"}))
    assert (status, code) == (400, "1214") and allowed in message and "可选尺寸" in message and "multiple of 16" in message
    status, _, message = error_of(post(server, {"prompt": "x", "aspect_ratio": "21:9"}, **{"Accept-Language": "zh-CN"}))
    assert status == 400 and message.startswith("tiny 不支持画面比例 '21:9'") and allowed in message
    status, _, message = error_of(post(server, {"prompt": "x", "size": "144x80", "aspect_ratio": "9:16"},
                                       **{"Accept-Language": "en"}))
    assert status == 400 and "is not aspect_ratio '9:16'" in message and allowed in message


def test_the_named_api_takes_aspect_ratio_after_the_older_inputs(server):
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    video, info = client.predict(prompt="a tall lighthouse", seed=3, num_frames=9, num_inference_steps=2,
                                 aspect_ratio="9:16", api_name="/text_to_video")
    probed = codec.probe(video)
    assert (probed.width, probed.height) == (80, 144) and (info["width"], info["height"]) == (80, 144)
    # Existing callers, who send no aspect_ratio, keep the model's own size.
    video, _ = client.predict(prompt="a wide field", seed=3, num_frames=9, num_inference_steps=2,
                              api_name="/text_to_video")
    assert (codec.probe(video).width, codec.probe(video).height) == (144, 96)
    names = [p["parameter_name"] for p in client.view_api(return_format="dict", print_info=False)
             ["named_endpoints"]["/text_to_video"]["parameters"]]
    # then the count of variations, added after it (tests/test_variations.py)
    assert names[-2:] == ["aspect_ratio", "variations"] and names[:2] == ["prompt", "negative_prompt"]


def test_mcp_generate_video_takes_aspect_ratio(server, tmp_path):
    from tests.test_mcp import call, text_of

    made, refused = call(server, "alice", ("generate_video", {"prompt": "a tall lighthouse", "aspect_ratio": "9:16"}),
                         ("generate_video", {"prompt": "x", "aspect_ratio": "4:3"}))
    assert not made.is_error, text_of(made)
    assert size_of(made.structured_content["video_url"], tmp_path) == (80, 144)
    assert refused.is_error and "'4:3'" in text_of(refused) and "80×144 (9:16)" in text_of(refused)
