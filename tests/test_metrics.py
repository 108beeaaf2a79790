"""Prometheus metrics at /metrics (issue 24, item 6): the line by lane, waits and render times,
ends by status, workers by state; answered to this machine, elsewhere only with the token.

The app is the real one, in the test's process, on a real port; the scrape goes over HTTP and is
read back with prometheus_client's own parser. Its tiny model keeps a GPU-like pace (at least
SLOW_STEP_S a step), so a second job is still waiting while the first renders."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request

from api.metrics import may_see
from cogvideo import VideoRequest
from jobs.job import CANCELLED, QUEUED, RUNNING, SUCCEEDED
from tests.conftest import SLOW_STEP_S, InProcessApp

TOKEN = "metrics-token-for-the-test"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("metrics-app")
    running = InProcessApp(tmp, env={"STUDIO_METRICS_TOKEN": TOKEN, "STUDIO_TINY_STEP_S": str(SLOW_STEP_S)})
    yield running
    running.close()


def scrape(app, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(app.url + "metrics", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by (name, sorted labels)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


def wait_for(condition, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.05)


def test_the_line_waits_renders_and_ends_are_counted(app):
    service = app.started.service
    status, text = scrape(app)
    assert status == 200, text
    assert value(text, "studio_jobs_waiting", lane="standard") == 0
    assert value(text, "studio_jobs_waiting", lane="vip") == 0
    assert value(text, "studio_workers", state="idle") == 1

    first = service.submit(VideoRequest(prompt="a paper boat on a pond", num_inference_steps=40, num_frames=9))
    wait_for(lambda: service.get(first.id).status == RUNNING)
    second = service.submit(VideoRequest(prompt="a kite over a beach", num_inference_steps=2, num_frames=9))
    assert service.get(second.id).status == QUEUED
    _, text = scrape(app)  # the first renders (40 steps of at least SLOW_STEP_S) while the second waits
    assert value(text, "studio_jobs_rendering", lane="standard") == 1
    assert value(text, "studio_jobs_waiting", lane="standard") == 1
    assert value(text, "studio_workers", state="rendering") == 1
    assert value(text, "studio_job_wait_seconds_count", lane="standard") == 1  # the first has started

    assert service.cancel(second.id).status == CANCELLED
    assert service.wait(first.id, timeout=600).status == SUCCEEDED
    _, text = scrape(app)
    assert value(text, "studio_jobs_finished_total", status="succeeded", lane="standard") == 1
    assert value(text, "studio_jobs_finished_total", status="cancelled", lane="standard") == 1
    assert value(text, "studio_jobs_waiting", lane="standard") == 0
    assert value(text, "studio_jobs_rendering", lane="standard") == 0
    render = dict(lane="standard", model="tiny", preset="quality")
    assert value(text, "studio_job_render_seconds_count", **render) == 1
    took = value(text, "studio_job_render_seconds_sum", **render)
    assert 40 * SLOW_STEP_S <= took < 600, took  # it took at least its 40 paced steps
    assert value(text, "studio_job_wait_seconds_count", lane="standard") == 1  # the cancelled one never started
    assert "studio_gpu_memory_used_bytes" not in text  # no GPU here: no family rather than a made-up zero


def test_only_this_machine_or_the_token_sees_them(app):
    # Through a proxy (its request names another caller), the loopback address is not this machine's user.
    status, text = scrape(app, {"X-Forwarded-For": "203.0.113.9", "Accept-Language": "zh-CN"})
    assert status == 403 and "监控指标只回答本机的请求" in text, text
    status, text = scrape(app, {"X-Forwarded-For": "203.0.113.9", "Accept-Language": "en-US"})
    assert status == 403 and "answered to this machine only" in text and "Traceback" not in text
    status, _ = scrape(app, {"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer wrong"})
    assert status == 403
    status, text = scrape(app, {"X-Forwarded-For": "203.0.113.9", "Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and "studio_jobs_waiting" in text


def request_from(host: str, headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "GET", "path": "/metrics", "headers": raw, "client": (host, 50000)})


@pytest.mark.parametrize("host, headers, token, shared, seen", [
    ("127.0.0.1", {}, None, False, True),  # this machine
    ("::1", {}, None, False, True),
    ("10.0.0.7", {}, None, False, False),  # another machine, and no token set: never public by default
    ("10.0.0.7", {}, TOKEN, False, False),
    ("10.0.0.7", {"Authorization": f"Bearer {TOKEN}"}, TOKEN, False, True),
    ("10.0.0.7", {"Authorization": f"Bearer {TOKEN}x"}, TOKEN, False, False),
    ("10.0.0.7", {"Authorization": "Bearer "}, "", False, False),  # an empty token opens nothing
    ("127.0.0.1", {"Forwarded": "for=203.0.113.9"}, None, False, False),
    ("127.0.0.1", {"X-Real-IP": "203.0.113.9"}, None, False, False),
    ("127.0.0.1", {}, None, True, False),  # --share: the public tunnel connects from loopback too
    ("127.0.0.1", {"Authorization": f"Bearer {TOKEN}"}, TOKEN, True, True),
])
def test_who_may_see_them(host, headers, token, shared, seen):
    assert may_see(request_from(host, headers), token, shared) is seen
