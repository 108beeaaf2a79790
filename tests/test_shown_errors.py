"""Missing weights are the operator's business: people (the page, 我的作品, REST and MCP callers)
are told one plain sentence in their language; the folder, the setting and how to install go to
the log (and the README's troubleshooting)."""

from __future__ import annotations

import logging
import re
import time

import httpx
import pytest

from cogvideo.media.colorize import Colorizer
from jobs import JobService, JobStore, LocalWorker
from jobs.job import FAILED
from jobs.keys import ApiKeys
from tests.conftest import InProcessApp, make_photo
from tests.test_jobs import request

COLORIZE_MISSING = ("Colorizing isn't installed on this server; ask whoever runs it.",
                    "这台服务器没有安装黑白照片上色功能，请联系管理员。")

# Operator words: an environment variable, a path (a slash or a drive), a command, a flag.
_OPERATOR = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|[/\\]|`|(?<![\w-])--?[a-z]|\bpython\b|\bhf\b|\.pth\b")


def assert_plain(*texts: str | None) -> None:
    """No shown message names an environment variable, a folder, a file or a command."""
    for text in texts:
        assert text and not _OPERATOR.search(text), text


def test_the_operator_pattern_catches_what_it_must():
    for operator in ("set DDCOLOR_WEIGHTS", "/tmp/x/ddcolor.pth", "run `hf download a b`", "pass --model",
                     "C:\\weights", "请检查路径（参数或 HF_HOME）"):
        with pytest.raises(AssertionError):
            assert_plain(operator)
    assert_plain(*COLORIZE_MISSING, "A video worker of this server could not load the model; ask whoever runs it.")


def test_a_missing_colorizer_fails_the_job_with_a_plain_sentence_and_logs_the_detail(
        tiny_engine, store_dir, tmp_path, caplog):
    from cogvideo.studio import Studio

    missing = tmp_path / "weights" / "ddcolor.pth"
    studio = Studio(tiny_engine, tmp_path / "outputs", colorizer=Colorizer(missing, "cpu"))
    photo = tmp_path / "grandparents.png"
    make_photo(160, 96, mode="L").convert("RGB").save(photo)
    store = JobStore(store_dir)
    service = JobService(store, [LocalWorker(studio)], max_queue=8, poll_s=0.1).start()
    try:
        with caplog.at_level(logging.WARNING, logger="cogvideo.jobs"):
            job = service.submit(request("grandparents wave", mode="old_photo", image=str(photo)), owner="a")
            failed = service.wait(job.id, timeout=120)
        assert failed.status == FAILED
        assert (failed.error.en, failed.error.zh) == COLORIZE_MISSING
        assert_plain(failed.error.en, failed.error.zh)
        assert service.get(job.id).summary()["error"] == {"en": COLORIZE_MISSING[0], "zh": COLORIZE_MISSING[1]}
        # The operator finds the file and the setting in the log.
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert str(missing) in logged and "DDCOLOR_WEIGHTS" in logged, logged
    finally:
        service.close()
        store.close()


@pytest.fixture()
def store_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture(scope="module")
def app_without_colorizer(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("no-colorizer")
    store = JobStore(tmp / "data")
    alice = ApiKeys(store).add("alice")[1]
    store.close()
    app = InProcessApp(tmp, data_dir=tmp / "data", env={"DDCOLOR_WEIGHTS": str(tmp / "missing" / "ddcolor.pth")})
    app.keys = {"alice": alice}
    yield app
    app.close()


def test_rest_and_mcp_callers_get_the_plain_sentence_too(app_without_colorizer):
    import base64
    import io

    from tests.test_mcp import call

    server = app_without_colorizer
    headers = {"Authorization": f"Bearer {server.keys['alice']}"}
    buffer = io.BytesIO()
    make_photo(160, 96, mode="L").convert("RGB").save(buffer, "PNG")
    image_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    base = server.url + "api/paas/v4"
    posted = httpx.post(f"{base}/videos/generations", headers=headers, timeout=60, json={
        "model": "cogvideox", "prompt": "grandparents wave", "image_url": image_url, "mode": "old_photo",
        "num_inference_steps": 2})
    assert posted.status_code == 200, posted.text
    task_id = posted.json()["id"]
    deadline = time.monotonic() + 180
    while (body := httpx.get(f"{base}/async-result/{task_id}", headers=headers, timeout=30).json())[
            "task_status"] == "PROCESSING":
        assert time.monotonic() < deadline, body
        time.sleep(0.3)
    assert body["task_status"] == "FAIL"
    assert (body["error"]["message"], body["error"]["message_zh"]) == COLORIZE_MISSING
    assert_plain(body["error"]["message"], body["error"]["message_zh"])

    (result,) = call(server, "alice", ("job_status", {"job_id": task_id}))
    shown = str(result.structured_content or result.content)
    assert COLORIZE_MISSING[0] in shown, shown
    assert "DDCOLOR" not in shown and "missing" not in shown, shown
    # The operator's detail is in the server's log.
    log = server.log_path.read_text()
    assert "DDCOLOR_WEIGHTS" in log and "ddcolor.pth" in log
