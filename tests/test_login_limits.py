"""Sign-in attempts are limited per user name and per client address, on a running app with a
users table and `--auth` on the command line (real HTTP against Gradio's `/login`).

Client addresses: uvicorn takes X-Forwarded-For from 127.0.0.1 (a trusted proxy by default), so
each test signs in from addresses of its own; gradio_client sends no such header (127.0.0.1)."""

from __future__ import annotations

import concurrent.futures
import math
import time

import httpx
import pytest
from gradio_client import Client

from jobs import JobStore, Users
from tests.conftest import InProcessApp


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("login-limits")
    store = JobStore(tmp / "data")
    Users(store).add("alice", password="alice-password")
    store.close()
    app = InProcessApp(tmp, data_dir=tmp / "data", extra_args=("--auth", "guest:guest-password"))
    yield app
    app.close()


def login(app, user: str, password: str, address: str, **headers) -> httpx.Response:
    return httpx.post(app.url + "login", data={"username": user, "password": password},
                      headers={"X-Forwarded-For": address, **headers}, timeout=60)


def test_wrong_passwords_from_one_address_pause_it_and_a_success_resets_it(signed):
    for i in range(5):  # different names: only the address adds up
        assert login(signed, f"nobody-{i}", "wrong", "10.5.0.1").status_code == 400
    paused = login(signed, "alice", "alice-password", "10.5.0.1", **{"Accept-Language": "en"})
    assert paused.status_code == 429 and paused.headers["retry-after"] == "1"
    assert paused.json()["detail"] == ("Too many failed sign-ins for this user name or from this address. Wait 1 s, "
                                       "then try again with the right password.")
    assert login(signed, "alice", "alice-password", "10.5.0.2").status_code == 200  # alice herself is not paused
    time.sleep(1.1)
    assert login(signed, "alice", "alice-password", "10.5.0.1").status_code == 200
    for i in range(5):  # the success started the address afresh
        assert login(signed, f"nobody-{i}", "wrong", "10.5.0.1").status_code == 400
    assert login(signed, "nobody", "wrong", "10.5.0.1").status_code == 429


def test_wrong_passwords_for_one_name_pause_it_from_every_address(signed):
    for i in range(5):
        assert login(signed, "alice", "guess", f"10.5.1.{i + 1}").status_code == 400
    paused = login(signed, "alice", "alice-password", "10.5.1.99", **{"Accept-Language": "zh-CN"})
    assert paused.status_code == 429 and "该用户名或该地址的登录失败次数过多" in paused.json()["detail"]
    assert login(signed, "guest", "guest-password", "10.5.1.99").status_code == 200  # others sign in meanwhile
    time.sleep(1.1)
    assert login(signed, "alice", "alice-password", "10.5.1.99").status_code == 200


def test_a_burst_of_parallel_guesses_gets_five_tries_not_three_hundred(signed):
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda i: login(signed, "target", f"guess {i}", "10.5.2.1"), range(300)))
    elapsed = time.monotonic() - started
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {400, 429}, statuses  # never a server error
    # Five free tries; then one more after 1 s, after 3 s, after 7 s... (a success would reset it).
    assert 5 <= statuses.count(400) <= 5 + math.floor(math.log2(elapsed + 1)), (statuses.count(400), elapsed)
    assert all("detail" in a.json() for a in answers if a.status_code == 429)


def test_the_login_page_states_the_rule_and_the_flag_warns_about_ps(signed):
    page = httpx.get(signed.url, timeout=30).text
    assert "After 5 wrong passwords in a row, sign-in pauses for a while" in page
    assert "--auth on the command line: its password shows in `ps`" in signed.log()
    assert "STUDIO_AUTH=user:password" in signed.log()


def test_gradio_client_is_refused_cleanly_while_its_address_is_paused(signed):
    for _ in range(5):
        with pytest.raises(ValueError, match="Could not login"):
            Client(signed.url, auth=("guest", "not-the-password"), verbose=False)
    with pytest.raises(ValueError, match="Could not login"):  # the 429: the same clean refusal, at once
        Client(signed.url, auth=("guest", "guest-password"), verbose=False)
    time.sleep(1.1)
    Client(signed.url, auth=("guest", "guest-password"), verbose=False)


def test_help_says_to_keep_the_password_out_of_ps(capsys):
    import app

    with pytest.raises(SystemExit):
        app.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Prefer env STUDIO_AUTH" in text and "shows in `ps` to every user of this machine" in text
