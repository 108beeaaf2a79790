"""A caller names a server path as music: REST (zai-sdk and raw HTTP), MCP (the `mcp` client), the
named Gradio API (`gradio_client`) and the CLI, against `python app.py --model tiny`.

The worst of it, done for real: `music=<data-dir>/studio.db` once had the app open and close its own
database file, which drops the app's SQLite locks; the next connection from another process (any
CLI command) then took itself for the last one and deleted the WAL the app was still writing, so
later jobs answered 200 but never reached the store and a revoked key kept working. Music on these
faces is a track id: text the studio never opens, refused with the ids to choose from and the same
words whether the path exists or not.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time

import anyio
import httpx
import numpy as np
import pytest

from jobs import JobStore
from jobs.keys import ApiKeys
from tests.conftest import ROOT, RunningApp
from tests.test_mcp import mcp_session, text_of

FAST = {"num_inference_steps": 2, "duration": 1}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("caller-paths")
    store = JobStore(tmp / "data")
    keys = ApiKeys(store)
    app_keys = {"alice": keys.add("alice")[1]}
    spare_record, app_keys["spare"] = keys.add("alice")
    store.close()
    app = RunningApp(tmp, data_dir=tmp / "data")
    app.keys, app.spare_id = app_keys, spare_record.id
    app.base = app.url + "api/paas/v4"
    yield app
    app.close()


def post(server, body: dict, key: str | None = None, **headers) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or server.keys['alice']}", "Content-Type": "application/json",
               **headers}
    return httpx.post(server.base + "/videos/generations", headers=headers, content=json.dumps(body), timeout=60)


def cli(server, *words: str) -> subprocess.CompletedProcess:
    """The operator's CLI: another process with its own connection to the store."""
    return subprocess.run([sys.executable, "-m", "cogvideo", *words, "--data-dir", str(server.data_dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def wait_done(server, task_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(f"{server.base}/async-result/{task_id}", timeout=30,
                         headers={"Authorization": f"Bearer {server.keys['alice']}"}).json()
        if body["task_status"] != "PROCESSING":
            return body
        assert time.monotonic() < deadline, "the task did not finish"
        time.sleep(0.3)


# ---------------------------------------------------------------- REST

def test_the_database_as_music_is_refused_and_the_store_keeps_working(server):
    database = server.data_dir / "studio.db"
    attack = post(server, {"model": "tiny", "prompt": "a cat", "music": str(database), **FAST},
                  **{"Accept-Language": "en"})
    # 1. Real second connections after the attempt, as an operator makes them: a plain sqlite3
    #    connection that reads, then a CLI command (another process) that writes.
    db = sqlite3.connect(database)
    db.execute("SELECT count(*) FROM jobs").fetchone()
    db.close()
    revoked = cli(server, "keys", "revoke", server.spare_id)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
    # 2. The app and the store still agree: the revoked key is refused, and a job the app accepts
    #    is in the store that another process reads (the CLI), and it finishes.
    refused = post(server, {"model": "tiny", "prompt": "x"}, key=server.keys["spare"])
    accepted = post(server, {"model": "tiny", "prompt": "a kite over the sea", **FAST})
    assert accepted.status_code == 200, accepted.text
    task_id = accepted.json()["id"]
    listed = cli(server, "jobs", "list", "--json", "--limit", "0")
    assert listed.returncode == 0, listed.stderr
    assert task_id in {job["job_id"] for job in json.loads(listed.stdout)}
    assert refused.status_code == 401, refused.text
    assert wait_done(server, task_id)["task_status"] == "SUCCESS"
    # 3. The attempt itself: Zhipu's error shape, the track ids, and nothing about the file.
    assert attack.status_code == 400
    error = attack.json()["error"]
    assert error["code"] == "1214"
    assert "track id" in error["message"] and "calm" in error["message"]
    assert "audio" not in error["message"] and "studio.db" in error["message"]  # only the caller's own words


@pytest.mark.parametrize("lang", ["en", "zh", None])
def test_a_path_answers_the_same_whether_it_exists_or_not(server, tmp_path, lang):
    """No oracle: an existing non-audio file, an existing audio file, a missing file and a folder
    all get the same answer, which differs only by the quoted value."""
    song = tmp_path / "song.wav"
    subprocess.run([sys.executable, "-c", "import wave; w = wave.open(%r, 'wb'); w.setnchannels(2); "
                    "w.setsampwidth(2); w.setframerate(48000); w.writeframes(bytes(48000 * 4)); w.close()"
                    % str(song)], check=True)
    headers = {"Accept-Language": lang} if lang else {}
    answers = []
    for path in ("/etc/passwd", str(song), "/no/such/file.wav", str(tmp_path)):
        response = post(server, {"model": "tiny", "prompt": "a cat", "music": path, **FAST}, **headers)
        assert response.status_code == 400
        answers.append(re.sub(r"'/[^']*'", "'PATH'", response.json()["error"]["message"]))
    assert len(set(answers)) == 1, answers
    message = answers[0]
    if lang != "en":
        assert "未知的配乐" in message
    if lang != "zh":
        assert "Unknown music 'PATH'" in message
    assert "Traceback" not in message


def test_track_ids_and_names_still_work(server):
    response = post(server, {"model": "tiny", "prompt": "a dog on a beach", "music": "Calm", **FAST})
    assert response.status_code == 200, response.text
    body = wait_done(server, response.json()["id"])
    assert body["task_status"] == "SUCCESS"


def test_with_zhipus_sdk(server, tmp_path):
    from zai import ZhipuAiClient
    from zai.core import APIRequestFailedError

    client = ZhipuAiClient(api_key=server.keys["alice"], base_url=server.base, max_retries=0)
    with pytest.raises(APIRequestFailedError) as info:
        client.videos.generations(model="tiny", prompt="a cat", extra_body={"music": "/etc/hostname", **FAST})
    assert "track id" in str(info.value) and "calm" in str(info.value)


# ---------------------------------------------------------------- MCP

def mcp_call(server, tool: str, arguments: dict) -> tuple[bool, str]:
    """One tool call through the `mcp` SDK's Streamable HTTP client: (is an error, its text)."""
    async def main():
        async with mcp_session(server.url + "mcp", server.keys["alice"], **{"Accept-Language": "en"}) as session:
            result = await session.call_tool(tool, arguments)
            return result.is_error, text_of(result)

    return anyio.run(main)


@pytest.mark.parametrize("tool", ["generate_video", "restyle_video", "extend_video"])
def test_mcp_tools_take_track_ids_only(server, tool, clip_data_url):
    before = (server.data_dir / "studio.db-wal").exists()
    arguments = {"prompt": "a cat", "music": str(server.data_dir / "studio.db"), "wait": False}
    if tool != "generate_video":
        arguments["video"] = clip_data_url
    is_error, text = mcp_call(server, tool, arguments)
    assert is_error
    assert "Unknown music" in text and "track id" in text and "calm" in text and "audio" not in text
    # The store is still the app's: a CLI connection comes and goes, and the WAL is still there.
    assert cli(server, "jobs", "list").returncode == 0
    assert (server.data_dir / "studio.db-wal").exists() == before


@pytest.fixture(scope="module")
def clip_data_url(tmp_path_factory):
    import base64

    from cogvideo.media import codec

    clip = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run([codec.ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=8",
                    "-t", "2", "-pix_fmt", "yuv420p", str(clip)], check=True)
    return "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()


# ---------------------------------------------------------------- the named Gradio API

def test_the_named_api_takes_no_server_path_as_the_track(server):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError):
        Client(server.url, verbose=False).predict(prompt="a cat", music=str(server.data_dir / "studio.db"),
                                                  num_inference_steps=2, num_frames=9, api_name="/text_to_video")
    assert cli(server, "jobs", "list").returncode == 0
    assert (server.data_dir / "studio.db-wal").exists()


def wal_database(path):
    """A SQLite database in WAL mode with a write not yet checkpointed, its connection held open by
    this process as the app holds its store."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    return db


def other_process_connects(path) -> None:
    subprocess.run([sys.executable, "-c", f"import sqlite3; c = sqlite3.connect({str(path)!r}); "
                    "c.execute('SELECT count(*) FROM t').fetchone(); c.close()"], check=True, timeout=60)


@pytest.mark.parametrize("endpoint", ["text_to_video", "change_music"])
def test_a_handler_opens_music_only_from_gradios_upload_folder(studio, tmp_path, monkeypatch, endpoint):
    """A music file outside Gradio's upload folder (here a live SQLite database of this process) is
    text to the studio: refused as an unknown track, never opened, so this process keeps its
    locks and another process's connection leaves the WAL alone. Inside the folder it is used."""
    import gradio as gr

    from agent import PromptAgent
    from jobs import JobService, LocalWorker
    from tests.test_handlers import FakeRequest, run
    from ui.handlers import Handlers

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    service = JobService(JobStore(tmp_path / "data"), [LocalWorker(studio)], poll_s=0.2).start()
    try:
        handlers = Handlers(studio, PromptAgent(), service)
        database = tmp_path / "elsewhere" / "live.db"
        database.parent.mkdir()
        db = wal_database(database)
        english = FakeRequest(language="en")
        clip = studio.output_dir / "clip.mp4"
        from cogvideo.media import codec

        codec.encode_mp4(np.zeros((9, 48, 64, 3), np.uint8), 8, clip)
        calls = {
            "text_to_video": lambda music_file: run(handlers.text_to_video, "a cat", num_inference_steps=2,
                                                    num_frames=9, music_file=music_file, request=english,
                                                    progress=None),
            "change_music": lambda music_file: handlers.change_music(str(clip), "none", 0.8, music_file,
                                                                     request=english),
        }
        with pytest.raises(gr.Error) as info:
            calls[endpoint](str(database))
        other_process_connects(database)
        assert database.with_name("live.db-wal").exists()  # gone on the old code: the handler opened it
        assert "Unknown music" in str(info.value) and "track id" in str(info.value)
        db.close()
        # An upload Gradio made (a file in its upload folder) is read and laid under the video.
        song = tmp_path / "gradio" / "0123abcd" / "song.wav"
        song.parent.mkdir(parents=True)
        subprocess.run([codec.ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=duration=2", str(song)],
                       check=True)
        out = calls[endpoint](str(song))
        video = out[0] if isinstance(out, tuple) else out
        assert codec.probe(video).audio_codec == "aac"
    finally:
        service.close()


# ---------------------------------------------------------------- the CLI

def test_the_cli_reads_the_operators_own_file_and_text_stays_a_track_id(tmp_path):
    """The CLI runs on the operator's machine in its own process, with no store: a file it is given
    is theirs (a Path). A name that is not a file, and not a track, is an unknown track."""
    from cli.main import _music_argument

    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF")
    assert _music_argument(str(song)) == song
    assert _music_argument("calm") == "calm" and _music_argument("宁静") == "宁静"
    assert _music_argument("/no/such/file.wav") == "/no/such/file.wav"
    proc = subprocess.run([sys.executable, "-m", "cogvideo", "--lang", "en", "generate", "--model", "tiny",
                           "--prompt", "x", "--music", "/no/such/file.wav"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2 and "Unknown music" in proc.stderr and "calm" in proc.stderr
