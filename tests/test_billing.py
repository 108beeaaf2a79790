"""POST /api/billing/grant (issue 24, item 3): a payment provider's signed callback grants a paid
pass once per order, over real HTTP to the real app (in the test's process). Bad signatures, old
timestamps, replayed orders, unknown users and 10 MB bodies are refused; without the secret the
route does not exist."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from api.billing import PATH, signature
from jobs import JobStore, Users
from jobs.job import STANDARD, VIP
from jobs.orders import Orders
from tests.conftest import InProcessApp

SECRET = "billing-secret-for-the-test"
DAY = 86400.0


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("billing")
    store = JobStore(tmp / "data")
    Users(store).add("alice", password="alice-password")
    store.close()
    running = InProcessApp(tmp, data_dir=tmp / "data", env={"STUDIO_BILLING_SECRET": SECRET})
    yield running
    running.close()


def post(app, body: bytes, stamp: str | None = None, signed: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict]:
    stamp = str(int(time.time())) if stamp is None else stamp
    sent = {"Content-Type": "application/json", "X-Studio-Timestamp": stamp,
            "X-Studio-Signature": signature(SECRET, stamp, body) if signed is None else signed, **(headers or {})}
    request = urllib.request.Request(app.url.rstrip("/") + PATH, data=body, headers=sent, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def order(order_id: str, user: str = "alice", days: float = 1) -> bytes:
    return json.dumps({"order_id": order_id, "user": user, "lane": "vip", "days": days}).encode()


def lane_until(app) -> float | None:
    return app.started.service.users.get("alice").lane_until


def test_a_signed_order_grants_its_pass_once_however_often_it_comes(app):
    status, answer = post(app, order("A-1001"))
    assert status == 200 and answer["lane"] == VIP and answer["already_granted"] is False, answer
    first_end = lane_until(app)
    assert first_end == answer["lane_until"] and abs(first_end - (time.time() + DAY)) < 120
    for _ in range(3):  # the provider retries: same answer, no more days
        status, again = post(app, order("A-1001"))
        assert status == 200 and again["already_granted"] is True and again["lane_until"] == first_end
    assert lane_until(app) == first_end
    status, answer = post(app, order("A-1002", days=2))  # another order stacks
    assert status == 200 and lane_until(app) == pytest.approx(first_end + 2 * DAY)


@pytest.mark.parametrize("what, stamp, signed, fragment", [
    ("no signature", None, "", "billing secret"),
    ("another secret", None, "sha256=" + "0" * 64, "billing secret"),
    ("six minutes old", str(int(time.time()) - 360), None, "5 minutes"),
    ("from the future", str(int(time.time()) + 360), None, "5 minutes"),
    ("not a number", "yesterday", None, "5 minutes"),
])
def test_unsigned_or_stale_requests_are_refused(app, what, stamp, signed, fragment):
    before = lane_until(app)
    body = order(f"B-{what}")
    if stamp is not None and signed is None:
        signed = signature(SECRET, stamp, body)  # rightly signed, but at the wrong time
    status, answer = post(app, body, stamp=stamp, signed=signed)
    assert status == 401 and fragment in answer["error"]["message"], (what, answer)
    assert "请求没有用本服务器的计费密钥签名" in answer["error"]["message"]  # no language: both
    assert lane_until(app) == before


def test_a_signature_over_another_body_is_refused(app):
    stamp = str(int(time.time()))
    status, _ = post(app, order("C-1", days=365), stamp=stamp, signed=signature(SECRET, stamp, order("C-1", days=1)))
    assert status == 401


def test_bad_orders_say_what_is_wrong_in_the_callers_language(app):
    status, answer = post(app, order("D-1", user="nobody"), headers={"Accept-Language": "zh-CN"})
    assert status == 404 and "没有名为 'nobody' 的用户" in answer["error"]["message"]
    status, answer = post(app, b'{"order_id": "D-2"}', headers={"Accept-Language": "en"})
    assert status == 400 and "The body must be JSON" in answer["error"]["message"]
    status, answer = post(app, order("D-3", days=-1), headers={"Accept-Language": "en"})
    assert status == 400 and "Traceback" not in json.dumps(answer)
    # A refused order may come again once fixed: it was not recorded as granted.
    Users(app.started.service.store).add("nobody", password="nobody-password")
    status, answer = post(app, order("D-1", user="nobody"))
    assert status == 200 and answer["already_granted"] is False


def test_a_ten_megabyte_body_is_refused_before_it_is_read(app):
    status, answer = post(app, b"{" + b" " * (10 * 2**20) + b"}")
    assert status == 413, answer


def test_without_the_secret_there_is_no_route(tmp_path):
    plain = InProcessApp(tmp_path)
    try:
        status, _ = post(plain, order("E-1"))
        assert status in (404, 405)
    finally:
        plain.close()


def test_two_deliveries_at_once_grant_once(tmp_path):
    store = JobStore(tmp_path / "data")
    Users(store).add("bob", password="bob-password")
    results = []
    start = threading.Barrier(6)

    def deliver() -> None:
        own = JobStore(tmp_path / "data")
        start.wait()
        try:
            results.append(Orders(own).grant_once("F-1", "bob", VIP, 1).again)
        finally:
            own.close()

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] + [True] * 5
    assert Users(store).lane_of("bob") == VIP and Users(store).lane_of("alice") == STANDARD
    store.close()
