"""Request bodies an anonymous visitor may send, on a running app (`python app.py --model tiny`).

Before the body guard (api/bodies.py) a 200 MB POST to the REST API, to Gradio's `/call/<api>` or to
its `/queue/join` was read whole into memory before anything looked at the key or the route
(+570 MB for one); and Gradio printed a malformed call's inputs whole into the log. Each test
sends the body from a generator, so the test itself never holds it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from jobs import JobStore
from jobs.keys import ApiKeys
from tests.conftest import RunningApp

MB = 2**20
BIG = 200 * MB
RSS_BOUND = 64 * MB  # a refused 200 MB body may move the server's peak memory by less than this
LOG_BOUND = 4096  # and its log by less than this (one warning line)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bodies")
    store = JobStore(tmp / "data")
    key = ApiKeys(store).add("alice")[1]
    store.close()
    running = RunningApp(tmp, data_dir=tmp / "data")
    running.key = key
    yield running
    running.close()


def chunks(total: int, piece: bytes = b"x" * MB) -> Iterator[bytes]:
    for _ in range(total // len(piece)):
        yield piece


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def peak_growth(pid: int, action: Callable[[], httpx.Response]) -> tuple[httpx.Response, int]:
    """`action`'s answer and how far the server's resident memory rose above where it stood
    before: the kernel's peak (VmHWM, reset first through clear_refs) where this user may reset
    it, and a 5 ms sample of VmRSS in any case."""
    before = status_kb(pid, "VmRSS")
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM to the current RSS
        kernel_peak = True
    except OSError:
        kernel_peak = False
    sampled, done = [before], threading.Event()

    def sample() -> None:
        while not done.is_set():
            sampled.append(status_kb(pid, "VmRSS"))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        answer = action()
    finally:
        done.set()
        sampler.join()
    peak = max(max(sampled), status_kb(pid, "VmHWM") if kernel_peak else 0)
    return answer, peak - before


def log_size(app) -> int:
    app._log.flush()
    return app.log_path.stat().st_size


ROUTES = {  # path -> (the shape of its error answers)
    "api/paas/v4/videos/generations": "zhipu",
    "gradio_api/call/text_to_video": "detail",
    "gradio_api/queue/join": "detail",
}


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", list(ROUTES))
def test_a_200_mb_body_is_refused_before_it_is_read(app, path, declared):
    headers = {"Content-Type": "application/json", "Accept-Language": "en"}
    if declared:
        headers["Content-Length"] = str(BIG)  # else httpx sends the generator chunked, size unknown
    grown_log = log_size(app)
    started = time.monotonic()
    answer, grown = peak_growth(app.proc.pid, lambda: httpx.post(
        app.url + path, content=chunks(BIG), headers=headers, timeout=120))
    elapsed = time.monotonic() - started
    grown_log = log_size(app) - grown_log
    print(f"{path} ({'declared' if declared else 'chunked'}): {answer.status_code} in {elapsed:.1f} s, "
          f"peak RSS +{grown / MB:.0f} MB, log +{grown_log} B")
    assert answer.status_code == 413, answer.text[:300]
    if ROUTES[path] == "zhipu":
        error = answer.json()["error"]
        assert error["code"] == "1413" and "too large" in error["message"] and "MB" in error["message"]
        assert not any("\u4e00" <= c <= "\u9fff" for c in error["message"])  # Accept-Language: en
    else:
        assert "too large" in answer.json()["detail"]
    assert grown < RSS_BOUND
    assert grown_log < LOG_BOUND
    assert elapsed < 60  # sending 200 MB through loopback, on a loaded machine


def test_the_413_speaks_the_callers_language(app):
    big = {"Content-Length": str(2 * MB), "Content-Type": "application/json"}
    zh = httpx.post(app.url + "api/paas/v4/videos", content=chunks(2 * MB), timeout=60,
                    headers={**big, "Accept-Language": "zh-CN", "Authorization": f"Bearer {app.key}"})
    assert zh.status_code == 413 and zh.json()["error"]["code"] == "1413"
    assert "请求过大" in zh.json()["error"]["message"] and "too large" not in zh.json()["error"]["message"]
    both = httpx.post(app.url + "gradio_api/queue/join", content=chunks(2 * MB), headers=big, timeout=60)
    assert both.status_code == 413
    assert "请求过大" in both.json()["detail"] and "too large" in both.json()["detail"]


def test_without_a_key_no_rest_body_is_read(app):
    """Under the clip-sized limit, a body without a working key is refused (401) unread: it used to
    be read and parsed whole first."""
    size = 120 * MB
    answer, grown = peak_growth(app.proc.pid, lambda: httpx.post(
        app.url + "api/paas/v4/videos/generations", content=chunks(size), timeout=120,
        headers={"Content-Type": "application/json", "Authorization": "Bearer not-a-key", "Accept-Language": "en"}))
    print(f"an anonymous {size // MB} MB REST body: {answer.status_code}, peak RSS +{grown / MB:.0f} MB")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "1000", answer.text[:300]
    assert grown < RSS_BOUND


def test_a_key_holder_may_still_send_a_clip_sized_body(app):
    """The REST API's clip cap (100 MB decoded) stays: a keyed 5 MB body, over the anonymous-sized
    limit of Gradio's routes, reaches the API's own checks."""
    body = json.dumps({"prompt": "x", "mode": "v2v", "video_url": "A" * (5 * MB)})
    answer = httpx.post(app.url + "api/paas/v4/videos/generations", content=body, timeout=60,
                        headers={"Authorization": f"Bearer {app.key}", "Content-Type": "application/json",
                                 "Accept-Language": "en"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "1214", answer.text[:300]


def test_a_malformed_call_does_not_put_its_body_in_the_log(app):
    """Gradio prints the inputs of a call with too few of them into the log. A body just under the
    route's limit (and many short lines, so a line cap alone would not do) reaches it and stays out."""
    line = "secret-payload-" + "y" * 85 + "\n"  # 101 characters
    payload = line * (900 * 1024 // len(line))
    before = log_size(app)
    join = httpx.post(app.url + "gradio_api/call/text_to_video", json={"data": [payload]}, timeout=60)
    assert join.status_code == 200, join.text[:300]
    events = httpx.get(f"{app.url}gradio_api/call/text_to_video/{join.json()['event_id']}", timeout=120).text
    assert "event: error" in events
    deadline = time.monotonic() + 30
    while app.log().count("didn't receive enough input values") == 0 and time.monotonic() < deadline:
        time.sleep(0.2)  # the traceback is printed by the queue's worker
    grown = log_size(app) - before
    print(f"a {len(payload)} B malformed call grew the log by {grown} B")
    assert "didn't receive enough input values" in app.log()  # Gradio's message is kept, cut short
    assert grown < 32 * 1024
    assert app.log().count("secret-payload-") * len(line) < 20_000  # at most one cut write's worth


def test_rest_errors_keep_zhipus_shape_for_bodies_nested_too_deep(app):
    auth = {"Authorization": f"Bearer {app.key}", "Content-Type": "application/json"}
    deep = '{"prompt": "x", "image_url": ' + "[" * 10_000 + "]" * 10_000 + "}"
    for lang, words in (("en", "JSON"), ("zh-CN", "JSON")):
        answer = httpx.post(app.url + "api/paas/v4/videos/generations", content=deep, timeout=60,
                            headers={**auth, "Accept-Language": lang})
        assert answer.status_code == 400, answer.text[:300]
        error = answer.json()["error"]
        assert error["code"] == "1214" and words in error["message"]
        assert any("\u4e00" <= c <= "\u9fff" for c in error["message"]) == (lang == "zh-CN")
    unknown = httpx.post(app.url + "api/paas/v4/no-such-route", json={}, headers={**auth, "Accept-Language": "en"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "1404"


# ---------------------------------------------------------------- in process: the parts on their own

def test_the_guard_hands_a_route_no_more_than_its_limit():
    """A chunked body over the limit: the chunk that would cross it reaches the route as 'the client
    left', so the route never holds more than the limit; the answer is ours."""
    import anyio
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse

    from api.bodies import BodyLimit, Rule

    held = []

    async def route(scope, receive, send):
        try:
            held.append(len(await Request(scope, receive).body()))
        except ClientDisconnect:
            held.append(-1)
        await JSONResponse({"read": held[-1]})(scope, receive, send)

    guard = BodyLimit(route, [Rule("/", 3000)], forced_lang="en")

    async def post(size: int) -> httpx.Response:
        async def body():  # chunked: no Content-Length to refuse it by
            for piece in chunks(size, b"z" * 1000):
                yield piece

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://studio") as http:
            return await http.post("/gradio_api/queue/join", content=body())

    over = anyio.run(post, 5000)
    assert over.status_code == 413 and "too large" in over.json()["detail"]
    assert held == [-1]
    fits = anyio.run(post, 3000)
    assert fits.status_code == 200 and fits.json() == {"read": 3000}


def test_a_write_to_the_log_keeps_lines_not_bodies():
    from api.log_lines import MAX_LINE, MAX_WRITE, cap_text

    assert cap_text("a short line\n") == "a short line\n"
    one_line = cap_text("x" * MB)
    assert len(one_line) < MAX_LINE + 50 and "characters cut" in one_line
    many = cap_text(("y" * 99 + "\n") * 10_000)
    assert len(many) < MAX_WRITE + 100 and "characters cut" in many
