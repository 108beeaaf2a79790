"""The MCP tools as an agent's client uses them: the `mcp` SDK's Streamable HTTP client against
`python app.py --model tiny`, with keys made like the operator's CLI makes them."""

from __future__ import annotations

import contextlib
import io
import json
import time
import urllib.request
from types import SimpleNamespace

import anyio
import httpx
import httpx2
import pytest
from PIL import Image

from cogvideo.media import codec
from jobs import JobStore
from jobs.keys import ApiKeys
from tests.conftest import AGENT_REPLY, RunningApp

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mcp")
    store = JobStore(tmp / "data")
    keys = ApiKeys(store)
    alice = keys.add("alice")[1]
    bob = keys.add("bob", lane="vip")[1]
    revoked_record, revoked = keys.add("carol")
    keys.revoke(revoked_record.id)
    store.close()
    app = RunningApp(tmp, data_dir=tmp / "data")
    app.keys = {"alice": alice, "bob": bob, "revoked": revoked}
    yield app
    app.close()


@contextlib.asynccontextmanager
async def mcp_session(url: str, key: str, transport: httpx2.AsyncBaseTransport | None = None, **headers):
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}", **headers}, transport=transport,
                              timeout=httpx2.Timeout(30, read=120))
    async with http, streamable_http_client(url, http_client=http) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            yield session


def call(server, who: str, *calls: tuple[str, dict], path: str = "mcp", **headers) -> list:
    """Run tool calls (name, arguments) in one client session of `who`; their results."""
    async def main():
        async with mcp_session(server.url + path, server.keys[who], **headers) as session:
            return [await session.call_tool(name, arguments) for name, arguments in calls]

    return anyio.run(main)


def text_of(result) -> str:
    return "".join(getattr(part, "text", "") for part in result.content)


# ---------------------------------------------------------------- one video, followed to the end

@pytest.fixture(scope="module")
def alice_videos(server):
    """A job left to run (wait=false), then a second one followed to the end behind it (wait=true)."""
    events: list = []
    started = time.monotonic()
    async def main():
        async with mcp_session(server.url + "mcp", server.keys["alice"]) as session:
            quick = await session.call_tool("generate_video", {"prompt": "a paper boat on a rainy street",
                                                               "wait": False})
            quick_s = time.monotonic() - started

            async def on_progress(progress, total, message):
                events.append((progress, total, message))

            followed = await session.call_tool(
                "generate_video", {"prompt": "a lighthouse at dawn, waves rolling in", "style": "cinematic",
                                   "music": "calm"}, progress_callback=on_progress)
            return quick, quick_s, followed

    quick, quick_s, followed = anyio.run(main)
    return SimpleNamespace(quick=quick, quick_s=quick_s, followed=followed, events=events)


def test_generate_video_waits_with_progress_and_returns_absolute_file_urls(server, alice_videos):
    result = alice_videos.followed
    assert not result.is_error, text_of(result)
    job = result.structured_content
    assert job["status"] == "succeeded" and len(job["job_id"]) == 32
    assert job["style"] == "cinematic" and job["music"] == "calm" and job["num_inference_steps"] == 50
    assert "lighthouse" in job["final_prompt"] and job["final_prompt"] != job["prompt"]  # the style's template
    assert "video" not in job and "cover" not in job  # no server paths
    assert json.loads(text_of(result))["job_id"] == job["job_id"]  # the same, as text for older clients
    assert job["video_url"].startswith(server.url + "api/files/") and job["video_url"].endswith("/video.mp4")
    assert job["cover_url"].startswith(server.url + "api/files/") and job["cover_url"].endswith("/cover.jpg")

    with urllib.request.urlopen(job["video_url"], timeout=30) as response:  # no key needed for the files
        assert response.headers["Content-Type"] == "video/mp4"
        path = server.output_dir / "from-mcp.mp4"
        path.write_bytes(response.read())
    info = codec.probe(path)
    assert info.video_codec == "h264" and info.audio_codec == "aac" and (info.width, info.height) == (144, 96)
    with urllib.request.urlopen(job["cover_url"], timeout=30) as response:
        assert Image.open(io.BytesIO(response.read())).format == "JPEG"

    events = alice_videos.events
    values = [value for value, _, _ in events]
    # How many arrive depends on the machine's speed (the tool looks every 0.5 s): at least the queued
    # one, one denoising step and the end; always strictly increasing, as MCP asks.
    assert len(events) >= 3 and values == sorted(set(values)), events
    assert all(total == 100 for _, total, _ in events) and values[-1] == 100 and max(values[:-1]) < 100
    messages = [message for _, _, message in events]
    assert any(m.startswith("Queued:") for m in messages), messages  # behind the wait=false job
    assert any(m.startswith("Denoising step") for m in messages) and messages[-1] == "Done."


def test_generate_video_without_waiting_then_job_status(server, alice_videos):
    quick = alice_videos.quick
    assert not quick.is_error, text_of(quick)
    assert alice_videos.quick_s < 10  # returned at once, before the render (~15 s on the tiny model)
    assert quick.structured_content["status"] in ("queued", "running")
    assert quick.structured_content["video_url"] is None
    job_id = quick.structured_content["job_id"]
    [status] = call(server, "alice", ("job_status", {"job_id": job_id}), path="mcp/")  # URLs under the Mount too
    assert not status.is_error and status.structured_content["status"] == "succeeded"  # done before the 2nd
    assert status.structured_content["video_url"].startswith(server.url + "api/files/")
    assert status.structured_content["prompt"] == "a paper boat on a rainy street"

    store = JobStore(server.data_dir)  # the same jobs as the UI and the REST API: alice's works
    try:
        assert {j.id for j in store.list(owner="alice")} >= {job_id, alice_videos.followed.structured_content["job_id"]}
        assert store.get(job_id).lane == "standard" and store.get(job_id).api_key == server.keys["alice"][:16]
    finally:
        store.close()


def test_someone_elses_job_is_not_found(server, alice_videos):
    job_id = alice_videos.quick.structured_content["job_id"]
    theirs, missing = call(server, "bob", ("job_status", {"job_id": job_id}),
                           ("job_status", {"job_id": "0" * 32}))
    for result in (theirs, missing):
        assert result.is_error and "was found in your works" in text_of(result)
    assert job_id in text_of(theirs)


# ---------------------------------------------------------------- the other tools

def test_tools_are_listed_with_their_schemas(server):
    async def main(path):
        async with mcp_session(server.url + path, server.keys["alice"]) as session:
            return {tool.name: tool for tool in (await session.list_tools()).tools}

    for path in ("mcp", "mcp/"):  # with and without the slash, no redirect
        tools = anyio.run(main, path)
        assert set(tools) == {"generate_video", "restyle_video", "extend_video", "export_gif", "suggest_prompt",
                              "job_status", "list_styles"}
    generate = tools["generate_video"].input_schema
    assert generate["required"] == ["prompt"]
    props = generate["properties"]
    assert {k: props[k].get("default") for k in ("image", "style", "music", "speed", "wait")} == {
        "image": None, "style": "none", "music": "none", "speed": None, "wait": True}
    speed_enums = [option.get("enum") for option in props["speed"].get("anyOf", [props["speed"]])]
    assert ["quality", "balanced", "fast", "lean"] in speed_enums and props["wait"]["type"] == "boolean"
    assert "data:image/png;base64" in props["image"]["description"] and "calm" in props["music"]["description"]
    assert "ctx" not in props
    assert "progress" in tools["generate_video"].description and "job_status" in tools["generate_video"].description
    assert tools["suggest_prompt"].input_schema["properties"]["mode"]["enum"] == ["t2v", "i2v", "old_photo"]
    assert tools["job_status"].input_schema["required"] == ["job_id"]
    restyle, extend = tools["restyle_video"].input_schema, tools["extend_video"].input_schema
    assert restyle["required"] == ["video"] and restyle["properties"]["strength"]["default"] == 0.7
    assert extend["required"] == ["video", "prompt"] and extend["properties"]["extensions"]["default"] == 1
    assert "data:video/mp4;base64" in restyle["properties"]["video"]["description"]
    assert tools["export_gif"].input_schema["required"] == ["job_id"]
    assert tools["list_styles"].input_schema.get("required", []) == []
    assert all(tool.description for tool in tools.values())


def test_list_styles(server):
    [result] = call(server, "alice", ("list_styles", {}))
    assert not result.is_error
    styles = {s["id"]: s for s in result.structured_content["result"]}
    assert {"none", "cinematic", "anime"} <= set(styles)
    assert styles["cinematic"]["name_en"] and styles["cinematic"]["name_zh"] and styles["cinematic"]["description_en"]


def test_suggest_prompt_returns_the_agents_english_prompt(server):
    [result] = call(server, "alice", ("suggest_prompt", {"idea": "小船", "style": "cinematic"}))
    assert not result.is_error, text_of(result)
    assert text_of(result) == AGENT_REPLY and result.structured_content == {"result": AGENT_REPLY}
    asked = json.dumps(server.chat.requests[-1].json, ensure_ascii=False)
    assert "小船" in asked


def test_bad_arguments_are_tool_errors_with_the_message(server):
    bad_style, bad_image, bad_mode = call(
        server, "alice",
        ("generate_video", {"prompt": "a kite", "style": "vaporwave"}),
        ("generate_video", {"prompt": "a kite", "image": "data:image/png;base64,bm90IGFuIGltYWdl"}),
        ("suggest_prompt", {"idea": "a kite", "mode": "sideways"}),
    )
    assert bad_style.is_error and "Unknown style 'vaporwave'" in text_of(bad_style)
    assert "未知的风格" in text_of(bad_style)  # no Accept-Language: both languages, like the REST API
    assert bad_image.is_error and "image_url" in text_of(bad_image)
    assert bad_mode.is_error and "mode" in text_of(bad_mode)
    [english] = call(server, "alice", ("generate_video", {"prompt": "a kite", "style": "vaporwave"}),
                     **{"Accept-Language": "en-US"})
    assert english.is_error and "Unknown style" in text_of(english) and "未知" not in text_of(english)
    store = JobStore(server.data_dir)
    try:
        assert not [j for j in store.list(owner="alice") if j.user_prompt == "a kite"]  # nothing was queued
    finally:
        store.close()



def test_arguments_of_the_wrong_type_are_named_in_the_callers_language_without_pydantics_report(server):
    # The SDK's own answer was pydantic's report: "1 validation error for generate_videoArguments ...
    # input_type=NoneType ... https://errors.pydantic.dev/...", English only; a NaN strength (refused by
    # our body model inside the tool) was a bare "Error executing tool restyle_video".
    calls = (("generate_video", {"wait": False}),
             ("job_status", {"job_id": None}),
             ("generate_video", {"prompt": "a kite", "speed": "warp", "wait": False}),
             ("restyle_video", {"video": "AAAA", "strength": "NaN", "wait": False}))
    chinese = [text_of(r) for r in call(server, "alice", *calls, **{"Accept-Language": "zh-CN"})]
    english = [text_of(r) for r in call(server, "alice", *calls, **{"Accept-Language": "en"})]
    for text in chinese + english:
        assert "pydantic" not in text and "NoneType" not in text and "validation error" not in text, text
    assert "缺少参数 prompt" in chinese[0] and "prompt is required" in english[0]
    assert "参数 job_id 应为字符串" in chinese[1] and "job_id" in english[1] and "null" in english[1]
    assert "参数 speed 应为以下之一" in chinese[2] and "'quality'" in chinese[2] and "speed" in english[2]
    assert "参数 strength 应为有限的数字" in chinese[3] and "strength" in english[3] and "NaN" in english[3]


@pytest.mark.parametrize("body, code", [(b"[1, 2]", -32602), (b"null", -32602), (b'{"jsonrpc": "2.0", "id": 1}', -32602),
                                        (b"not json", -32700)])
def test_a_body_that_is_not_a_json_rpc_message_is_told_so_in_the_callers_language(server, body, code):
    # The SDK answered pydantic's report: "4 validation errors for union[JSONRPCRequest, ...] ...
    # input_type=NoneType ... https://errors.pydantic.dev/...", in English for everyone.
    for lang, words in (("en", "JSON-RPC 2.0"), ("zh", "JSON-RPC 2.0 消息")):
        response = httpx.post(server.url + "mcp", content=body, timeout=30, headers={
            **MCP_HEADERS, "Authorization": f"Bearer {server.keys['alice']}", "Accept-Language": lang})
        error = response.json()["error"]
        assert response.status_code == 400 and error["code"] == code and words in error["message"], response.text
        assert "pydantic" not in response.text and "NoneType" not in response.text
        if lang == "zh":
            assert "请" in error["message"]

def test_requests_without_a_good_key_get_401(server):
    for path in ("mcp", "mcp/"):
        for authorization in (None, "Bearer nope", f"Bearer {server.keys['revoked']}",
                              f"Basic {server.keys['alice']}", "Bearer 0123456789abcdef.wrongwrongwrongwrong"):
            headers = {**MCP_HEADERS, **({"Authorization": authorization} if authorization else {})}
            response = httpx.post(server.url + path, json=INITIALIZE, headers=headers, timeout=30)
            assert response.status_code == 401, (path, authorization, response.text)
            assert response.json()["error"]["code"] == "1000"
            assert response.headers["www-authenticate"].startswith("Bearer")
    missing = httpx.post(server.url + "mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Accept-Language": "en"})
    assert missing.json()["error"]["message"] == "Missing API key: send `Authorization: Bearer <key>`."
    ok = httpx.post(server.url + "mcp", json=INITIALIZE,
                    headers={**MCP_HEADERS, "Authorization": f"Bearer {server.keys['bob']}"}, timeout=30)
    assert ok.status_code == 200 and "cogvideox-studio" in ok.text


# ---------------------------------------------------------------- in process: any Starlette app

def test_mounted_in_another_app_without_a_lifespan_and_with_no_keys_yet(tmp_path, studio):
    """A plain FastAPI app that runs no sub-app lifespan: the first request starts the SDK's manager.
    With no key at all every request is refused with the command that makes one."""
    from fastapi import FastAPI

    from api.mcp import build_mcp, mcp_routes

    store = JobStore(tmp_path / "data")
    # The tools' words name the studio's model (the tiny one: nothing is loaded to build them).
    endpoint = build_mcp(SimpleNamespace(store=store), studio, agent=None)
    outer = FastAPI(routes=mcp_routes(endpoint))
    transport = httpx2.ASGITransport(app=outer)

    async def main():
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
            refused = await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer x"})
        key = ApiKeys(store).add("dora")[1]  # another process (the CLI) adds one: it works at once
        async with mcp_session("http://testserver/mcp/", key, transport=transport) as session:
            styles = await session.call_tool("list_styles", {})
        await endpoint.stop()
        return refused, styles

    try:
        refused, styles = anyio.run(main)
    finally:
        store.close()
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "1000"
    assert "python -m cogvideo keys add" in refused.json()["error"]["message"]
    assert not styles.is_error and styles.structured_content["result"][0]["id"] == "none"
