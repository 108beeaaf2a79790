"""The model named in every face but the page, against `python app.py --model tiny-wan` (a tiny random
Wan, which reads Chinese): REST with Zhipu's own SDK (`zai-sdk`), MCP with the `mcp` client, and
the named API with gradio_client. The CLI's side is in tests/test_cli.py, Ray's in
tests/test_ray_workers.py, a restart onto another model in tests/test_restart.py."""

from __future__ import annotations

import anyio
import httpx
import pytest

from cogvideo import VideoRequest
from cogvideo.media import codec
from jobs import JobStore
from jobs.job import LOCAL_OWNER
from jobs.keys import ApiKeys
from tests.conftest import InProcessApp
from tests.test_api import error_of, post, wait_done, zai
from tests.test_mcp import mcp_session

FAST = {"num_inference_steps": 2}
CAT = "一只橘猫在雨后的石板路上慢慢走，镜头缓缓推近"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wan-faces")
    store = JobStore(tmp / "data")
    alice = ApiKeys(store).add("alice")[1]
    store.close()
    app = InProcessApp(tmp, data_dir=tmp / "data", extra_args=("--model", "tiny-wan"))
    app.keys = {"alice": alice}
    app.base = app.url + "api/paas/v4"
    yield app
    app.close()


def test_zai_sdk_names_the_wan_model_and_keeps_a_chinese_prompt(server, tmp_path):
    client = zai(server)
    task = client.videos.generations(model="Tiny-Wan", prompt=CAT, extra_body={"seed": 3, **FAST})
    assert task.model == "tiny-wan"  # the served model's own name, whatever case the caller wrote
    result = wait_done(client, task.id)
    assert result.task_status == "SUCCESS" and result.model == "tiny-wan"
    body = httpx.get(f"{server.base}/async-result/{task.id}", timeout=30,
                     headers={"Authorization": f"Bearer {server.keys['alice']}"}).json()
    assert body["prompt"] == CAT  # straight to umT5: no translation
    video = tmp_path / "wan.mp4"
    video.write_bytes(httpx.get(result.video_result[0].url, timeout=30).content)
    assert codec.probe(video).fps == 16.0  # Wan's rate, not CogVideoX's 8


def test_zhipu_and_cogvideox_names_are_refused_on_a_wan_server(server):
    from zai.core import APIRequestFailedError

    # Zhipu's own names mean CogVideoX: a Wan server must not answer them with a Wan video.
    with pytest.raises(APIRequestFailedError) as err:
        zai(server).videos.generations(model="cogvideox", prompt="a cat")
    assert "1211" in str(err.value) and "tiny-wan" in str(err.value)
    status, code, message = error_of(post(server, {"model": "cogvideox-3", "prompt": "x"},
                                          **{"Accept-Language": "zh-CN"}))
    assert (status, code) == (400, "1211")
    assert "模型不存在" in message and "tiny-wan, tiny-wan-i2v" in message and "not served" not in message
    status, code, message = error_of(post(server, {"model": "5b", "prompt": "x"}, **{"Accept-Language": "en"}))
    assert (status, code) == (400, "1211")
    assert "'5b' is not served here" in message and "this server runs tiny-wan" in message
    assert "cogvideox" not in message  # the list offers only what this server runs


def test_mcp_tools_ask_for_chinese_or_english_and_results_name_the_model(server):
    async def main():
        async with mcp_session(server.url + "mcp", server.keys["alice"]) as session:
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            made = await session.call_tool("generate_video", {"prompt": CAT, "wait": True})
            return tools, made

    tools, made = anyio.run(main)
    generate = tools["generate_video"]
    assert "Wan" in generate.description and "Chinese or English" in generate.description
    assert "CogVideoX" not in generate.description and "English text prompt" not in generate.description
    prompt = generate.input_schema["properties"]["prompt"]["description"]
    assert "in Chinese or English" in prompt and "~512 tokens" in prompt  # umT5's length, not T5's 226
    for name in ("restyle_video", "extend_video", "suggest_prompt"):
        assert "in English" not in tools[name].description + str(tools[name].input_schema), name
    assert not made.is_error, made.content
    assert made.structured_content["model"] == "tiny-wan" and made.structured_content["prompt"] == CAT


def test_job_status_and_my_works_name_each_works_model(server):
    from gradio_client import Client

    service = server.started.service
    job = service.submit(VideoRequest(prompt=CAT, **FAST), owner=LOCAL_OWNER)
    service.wait(job.id, timeout=300)
    client = Client(server.url, verbose=False)
    status = client.predict(job.id, api_name="/job_status")
    assert status["status"] == "succeeded" and status["model"] == "tiny-wan"
    works = {w["job_id"]: w for w in client.predict(api_name="/my_works")}
    assert works[job.id]["model"] == "tiny-wan"


def test_a_job_for_a_model_this_server_does_not_run_says_what_it_waits_for(server):
    """A CogVideoX job left in the line by the same server before a restart onto Wan: REST and
    MCP show it queued for its own model, with no place in line, and say why in the caller's language."""
    import time
    import uuid

    from jobs.job import QUEUED, Job

    job_id = uuid.uuid4().hex
    service = server.started.service
    service.store.insert(Job(id=job_id, owner="alice", lane="standard", mode="t2v", status=QUEUED,
                             created_at=time.time(), request={"prompt": "a boat", "model": "tiny", **FAST}))
    body = httpx.get(f"{server.base}/async-result/{job_id}", timeout=30,
                     headers={"Authorization": f"Bearer {server.keys['alice']}", "Accept-Language": "zh-CN"}).json()
    assert body["task_status"] == "PROCESSING" and body["model"] == "tiny" and body["waits_for_model"] == "tiny"
    assert body["queue_position"] is None and "等待装有模型 tiny 的工作进程" in body["message"]

    async def main():
        async with mcp_session(server.url + "mcp", server.keys["alice"]) as session:
            return await session.call_tool("job_status", {"job_id": job_id})

    status = anyio.run(main).structured_content
    assert status["model"] == "tiny" and status["waits_for_model"] == "tiny" and status["position"] is None
    assert "model tiny" in status["message"]["en"]
    service.cancel(job_id)  # it would wait for ever here


def test_mcp_suggest_prompt_writes_in_the_callers_language_for_a_model_that_reads_chinese(server):
    from tests.chat_server import Reply
    from tests.test_agent_wan import CHINESE_ANSWER, IDEA

    server.chat.queue(Reply(text=CHINESE_ANSWER))

    async def main():
        async with mcp_session(server.url + "mcp", server.keys["alice"]) as session:
            return await session.call_tool("suggest_prompt", {"idea": IDEA})

    result = anyio.run(main)
    assert not result.is_error, result.content
    assert result.content[0].text == CHINESE_ANSWER  # taken: on Wan a Chinese answer to Chinese is right
    # The agent was told the model: Wan's own instructions, and to write in the caller's language.
    messages = server.chat.requests[-1].json["messages"]
    assert "Wan" in messages[0]["content"] and "CogVideoX" not in messages[0]["content"]
    assert "Write in: Chinese" in messages[1]["content"] and IDEA in messages[1]["content"]
