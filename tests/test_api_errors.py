"""Our errors as the REST API answers them, in process: the status each error class names, and
Zhipu's error shape with its code. The server's own failures are 5xx, never the caller's 400."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from api.zhipu import PREFIX, api_error, build_api
from cogvideo.errors import DiskFull, ImageError, ModelFileError, StudioError, WeightsMissing
from jobs import JobNotFound, JobStore, QueueFull, RequestIdConflict
from jobs.errors import TooManyJobs
from jobs.job import SUCCEEDED
from jobs.keys import ApiKeys


class FailingStudio:
    """A studio whose GIF export fails with `error`, as the real one does mid-export."""

    def __init__(self, error: Exception):
        self.error = error

    def export_gif(self, video, width, fps):
        raise self.error


@pytest.fixture
def gif_of(tmp_path):
    """gif_of(error) -> the API's answer to a GIF of a finished task whose export raises `error`."""
    store = JobStore(tmp_path / "data")
    key = ApiKeys(store).add("alice")[1]
    video = tmp_path / "video.mp4"
    video.write_bytes(b"not read: the export fails first")
    job = SimpleNamespace(id="job-1", status=SUCCEEDED, video=str(video), file_token="t" * 32)
    service = SimpleNamespace(store=store, get=lambda task_id, owner: job)

    def answer(error: Exception, lang: str = "en"):
        with TestClient(build_api(service, FailingStudio(error))) as client:
            return client.get(f"/{PREFIX.strip('/')}/async-result/job-1/gif",
                              headers={"Authorization": f"Bearer {key}", "Accept-Language": lang})

    yield answer
    store.close()


@pytest.mark.parametrize("error, status, code", [
    (DiskFull(), 507, "1507"),
    (StudioError("The worker lost its GPU.", "工作进程失去了 GPU。"), 500, "1500"),
    (ModelFileError("The weights file is damaged.", "权重文件已损坏。"), 500, "1500"),
    (WeightsMissing("No weights on this server.", "此服务器上没有权重。"), 503, "1500"),
    (ImageError("image_url is not a picture.", "image_url 不是图片。"), 400, "1214"),
])
def test_a_gif_export_failing_on_the_servers_side_is_a_5xx_not_the_callers_400(gif_of, error, status, code):
    for lang, text in (("en", error.en), ("zh", error.zh)):
        response = gif_of(error, lang)
        assert response.status_code == status, response.text
        assert response.json() == {"error": {"code": code, "message": text}}


@pytest.mark.parametrize("error, status, code, retry_after", [
    (QueueFull("The queue is full.", "队列已满。"), 429, "1305", "60"),
    (TooManyJobs(2), 429, "1306", "30"),
    (JobNotFound("job-9"), 404, "1404", None),
    (RequestIdConflict("r-1"), 409, "1409", None),
])
def test_the_job_services_refusals_keep_their_status_code_and_retry_after(error, status, code, retry_after):
    refusal = api_error(error)
    assert (refusal.status, refusal.code, refusal.text) == (status, code, error.text)
    assert refusal.headers.get("Retry-After") == retry_after


@pytest.fixture
def rest(studio, tmp_path):
    """post(raw JSON bytes, lang) -> the REST API's answer, in process, over the real tiny studio and
    a job service that is not started (a job made stays queued)."""
    from jobs import JobService, LocalWorker

    store = JobStore(tmp_path / "data")
    key = ApiKeys(store).add("alice")[1]
    service = JobService(store, [LocalWorker(studio)])

    def post(raw: bytes, lang: str = "en"):
        with TestClient(build_api(service, studio)) as client:
            return client.post(f"/{PREFIX.strip('/')}/videos/generations", content=raw,
                               headers={"Authorization": f"Bearer {key}", "Accept-Language": lang,
                                        "Content-Type": "application/json"})

    post.store = store
    yield post
    store.close()


@pytest.mark.parametrize("field", ["prompt", "negative_prompt"])
def test_a_lone_surrogate_escape_in_a_prompt_is_a_400_naming_it_not_a_500(rest, field):
    # json.loads keeps "\ud800" as a lone surrogate; SQLite's UTF-8 refused it: 500 UnicodeEncodeError.
    raw = b'{"prompt": "a cat", "%s": "a \\ud800 cat", "size": "48x32"}' % field.encode()
    for lang, words in (("en", "contains a broken character"), ("zh", "有损坏的字符")):
        response = rest(raw, lang)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "1214" and words in error["message"], error
        assert "Error" not in error["message"]  # no exception names
    assert rest.store.list() == []


@pytest.mark.parametrize("raw, field, zh", [
    (b'{"prompt": "a cat", "guidance_scale": NaN}', "guidance_scale", "应为有限的数字"),
    (b'{"prompt": 5}', "prompt", "应为字符串"),
    (b'{"prompt": "a cat", "mode": "x2v"}', "mode", "应为以下之一：'t2v', 'i2v', 'old_photo', 'v2v', 'extend'"),
    (b'{"prompt": "a cat", "num_inference_steps": 2.5}', "num_inference_steps", "应为整数"),
    (b'{"prompt": "a cat", "with_audio": "yes please"}', "with_audio", "应为 true 或 false"),
    (b'{"prompt": "a cat", "image_url": [null]}', "image_url", "应为字符串"),
])
def test_a_field_of_the_wrong_type_is_named_in_chinese_for_a_chinese_caller(rest, raw, field, zh):
    # The Chinese message carried pydantic's English ("参数 prompt 无效：Input should be a valid string")
    # and a Python repr of the value (None, {'a': 1}); a union named its member ("image_url.str").
    response = rest(raw, "zh")
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert message.startswith(f"参数 {field} {zh}"), message
    assert "Input should" not in message and "None" not in message
    english = rest(raw, "en").json()["error"]["message"]
    assert english.startswith(f"{field}: ") and "None" not in english, english


@pytest.mark.parametrize("raw", [b"[1, 2]", b"null", b""])
def test_a_body_that_is_not_one_json_object_is_told_so(rest, raw):
    # "body: Field required (got None)" / "body: Input should be a valid dictionary or object to extract
    # fields from (got [1, 2])": the caller's mistake in pydantic's words and Python's.
    for lang, words in (("en", "must be one JSON object"), ("zh", "请求体必须是一个 JSON 对象")):
        response = rest(raw, lang)
        assert response.status_code == 400 and words in response.json()["error"]["message"], response.text


def test_a_negative_prompt_over_the_prompts_limit_is_refused_before_it_is_stored(rest):
    # It was taken whole (a submit body may carry ~135 MB) and kept in the job's row, which every
    # listing of the user's works reads; the prompt itself stops at 20,000 characters.
    raw = b'{"prompt": "a cat", "size": "48x32", "negative_prompt": "%s"}' % (b"blurry " * 20_000)
    for lang, words in (("en", "The negative prompt is 140000 characters; the limit is 20000"),
                        ("zh", "反向提示词有 140000 个字符，上限为 20000")):
        response = rest(raw, lang)
        assert response.status_code == 400 and words in response.json()["error"]["message"], response.text
    assert rest.store.list() == []
