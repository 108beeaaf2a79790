"""`users remove` and `users set-password` take effect in the running app at once, on every face.

The app runs as `python app.py --model tiny` in a subprocess and the operator's commands as
`python -m cogvideo users ...` run in the test's process (cli.main.main): the database is the only
thing they share. A removed user's key is refused by REST (zai-sdk, bearer and JWT) and MCP (the
`mcp` client), their signed-in session (gradio_client, a real `POST /login`) is refused at its next
call, their jobs are cancelled and a new user of the same name inherits nothing. A new password
ends the user's sessions.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sqlite3
import time
from pathlib import Path

import anyio
import httpx
import pytest
from gradio_client import Client

from jobs import ApiKeys, JobStore, Users
from jobs.job import CANCELLED, QUEUED, RUNNING, SUCCEEDED
from jobs.store import MIGRATIONS
from tests.conftest import Ran, RunningApp, run_cogvideo

FAST = {"num_inference_steps": 2}           # with duration=1: about a second on the tiny model
SLOW = {"num_inference_steps": 150}         # long enough to still be rendering when the user goes


def cogvideo(data_dir: Path, *words: str, stdin: str = "") -> Ran:
    """The operator's CLI, `python -m cogvideo WORDS --data-dir DATA`, in the test's process: the app
    is another process all the same, so the database is still all they share."""
    done = run_cogvideo(*words, "--data-dir", str(data_dir), stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done


def sign_in(app, user: str, password: str, lang: str = "en") -> Client:
    """A real `POST /login` and the session's cookie, as gradio_client keeps it (a loaded machine may
    take more than httpx's default 5 s for the page's config)."""
    return Client(app.url, auth=(user, password), headers={"Accept-Language": lang}, verbose=False,
                  httpx_kwargs={"timeout": 60})


def new_key(data_dir: Path, user: str) -> str:
    return cogvideo(data_dir, "keys", "add", user).stdout.split()[-1]  # the key is the last word


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("removal")
    data = tmp / "data"
    for name in ("alice", "bob", "carol"):
        cogvideo(data, "users", "add", name, "--password-stdin", stdin=f"{name}-password\n")
    app = RunningApp(tmp, data_dir=data)
    yield app
    app.close()


def zai(app, key: str, jwt: bool = False):
    from zai import ZhipuAiClient

    return ZhipuAiClient(api_key=key, base_url=app.url + "api/paas/v4", max_retries=0, disable_token_cache=not jwt)


def wait_for(what, condition, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.3)
    return value


def job_status(data_dir: Path, job_id: str):
    store = JobStore(data_dir)
    try:
        return store.get(job_id)
    finally:
        store.close()


async def mcp_styles(url: str, key: str):
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    import httpx2

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=httpx2.Timeout(30, read=60))
    async with http, streamable_http_client(url, http_client=http) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            return await session.call_tool("list_styles", {})


def mcp_status(app, key: str) -> int:
    """The status of an MCP `initialize` with this key (401: refused)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
    return httpx.post(app.url + "mcp", json=body, timeout=30, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream"}).status_code


def signed_out(call) -> str:
    """The message of a call refused because its session ended."""
    with pytest.raises(Exception) as refused:
        call()
    text = str(refused.value)
    response = getattr(refused.value, "response", None)
    return text + (response.text if response is not None else "")


def test_a_removed_user_loses_keys_sessions_and_jobs_and_a_new_namesake_inherits_nothing(studio):
    from zai.core import APIAuthenticationError

    data = studio.data_dir
    key = new_key(data, "alice")
    bearer, signed = zai(studio, key), zai(studio, key, jwt=True)
    done = bearer.videos.generations(model="cogvideox", prompt="alice's lighthouse", duration=1, extra_body=FAST)
    wait_for("alice's first video", lambda: bearer.videos.retrieve_videos_result(id=done.id).task_status == "SUCCESS")
    assert signed.videos.retrieve_videos_result(id=done.id).task_status == "SUCCESS"  # the JWT form works too
    assert not anyio.run(mcp_styles, studio.url + "mcp", key).is_error
    page = sign_in(studio, "alice", "alice-password")
    assert [w["prompt"] for w in page.predict(api_name="/my_works")] == ["alice's lighthouse"]
    carol = sign_in(studio, "carol", "carol-password")
    running = bearer.videos.generations(model="cogvideox", prompt="alice's long one", duration=4, extra_body=SLOW)
    waiting = bearer.videos.generations(model="cogvideox", prompt="alice's next one", duration=4, extra_body=SLOW)
    wait_for("the long job to render", lambda: job_status(data, running.id).status == RUNNING)
    assert job_status(data, waiting.id).status == QUEUED

    said = cogvideo(data, "users", "remove", "alice").stdout  # what it says is checked at the end

    # REST (bearer and the JWT the SDK signed and reuses) and MCP: refused at once.
    for client in (bearer, signed):
        with pytest.raises(APIAuthenticationError):
            client.videos.retrieve_videos_result(id=done.id)
        with pytest.raises(APIAuthenticationError):
            client.videos.generations(model="cogvideox", prompt="still here?", duration=1, extra_body=FAST)
    assert mcp_status(studio, key) == 401
    with pytest.raises(BaseException):
        anyio.run(mcp_styles, studio.url + "mcp", key)
    # The signed-in session: its next named-API call is refused with the reason and the next step.
    message = signed_out(lambda: page.predict(api_name="/my_works"))
    assert "You have been signed out" in message and "sign in again" in message, message
    assert "You have been signed out" in signed_out(lambda: page.predict(api_name="/my_works"))  # every call
    assert [w["prompt"] for w in carol.predict(api_name="/my_works")] == []  # another user's session goes on
    # Their jobs: the queued one cancelled at once, the rendering one stops at its next step.
    assert job_status(data, waiting.id).status == CANCELLED
    wait_for("the rendering job to stop", lambda: job_status(data, running.id).status == CANCELLED, timeout=60)
    assert "1 API key(s) revoked" in said and "1 queued job(s) cancelled" in said and "1 running job(s)" in said

    # A new alice: same name, none of the old works, keys or links.
    cogvideo(data, "users", "add", "alice", "--password-stdin", stdin="new-alice-password\n")
    assert '"id"' not in cogvideo(data, "keys", "list", "--user", "alice", "--json").stdout
    with pytest.raises(ValueError, match="Could not login"):
        sign_in(studio, "alice", "alice-password")  # the old password is gone with her
    again = sign_in(studio, "alice", "new-alice-password")
    assert again.predict(api_name="/my_works") == []
    fresh = zai(studio, new_key(data, "alice"))
    with pytest.raises(Exception) as unseen:
        fresh.videos.retrieve_videos_result(id=done.id)
    assert not isinstance(unseen.value, APIAuthenticationError)  # the key works; the old job is not hers
    store = JobStore(data)
    try:
        assert store.list(owner="alice") == []
        archived = store.get(done.id)
        assert archived.owner.startswith("removed:alice:") and archived.status == SUCCEEDED
        assert archived.file_token is None  # the old video's link no longer opens
        assert {store.get(j).owner for j in (running.id, waiting.id)} == {archived.owner}
    finally:
        store.close()


def test_a_new_password_ends_the_users_sessions(studio):
    data = studio.data_dir
    phone = sign_in(studio, "bob", "bob-password")
    laptop = sign_in(studio, "bob", "bob-password", lang="zh-CN")
    carol = sign_in(studio, "carol", "carol-password")
    assert phone.predict(api_name="/my_works") == [] and laptop.predict(api_name="/my_works") == []

    cogvideo(data, "users", "set-password", "bob", "--password-stdin", stdin="bob-new-password\n")

    assert "You have been signed out" in signed_out(lambda: phone.predict(api_name="/my_works"))
    assert "你已退出登录" in signed_out(lambda: laptop.predict(api_name="/my_works"))
    assert carol.predict(api_name="/my_works") == []  # carol's password did not change: still signed in
    with pytest.raises(ValueError, match="Could not login"):
        sign_in(studio, "bob", "bob-password")
    assert sign_in(studio, "bob", "bob-new-password").predict(api_name="/my_works") == []


def test_the_running_apps_data_folder_is_private(studio):
    data = studio.data_dir
    cogvideo(data, "keys", "add", "dora")  # makes api-keys.secret if no test did yet
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    for name in ("studio.db", "studio.db-wal", "studio.db-shm", "api-keys.secret"):
        assert stat.S_IMODE(os.stat(data / name).st_mode) == 0o600, name


# ---------------------------------------------------------------- in process and the CLI alone

def test_loose_modes_are_tightened_with_a_log_line(tmp_path):
    data = tmp_path / "data"
    cogvideo(data, "keys", "add", "erin")
    os.chmod(data, 0o755)
    for name in ("studio.db", "api-keys.secret"):
        os.chmod(data / name, 0o644)
    said = cogvideo(data, "keys", "add", "erin").stderr  # any command that opens the data folder
    assert "was open to other users (mode 755)" in said and "api-keys.secret was open to other users" in said
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(data / "studio.db").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data / "api-keys.secret").st_mode) == 0o600


def test_a_key_outlives_no_user_even_one_deleted_by_an_older_release(tmp_path):
    """Before schema 3, `users remove` only deleted the row and the user's keys went on working.
    Opening such a database revokes them; and a key whose owner is no user is refused regardless."""
    old = tmp_path / "old"
    old.mkdir()
    db = sqlite3.connect(old / "studio.db")
    db.executescript(MIGRATIONS[1] + ";" + MIGRATIONS[2] + "; PRAGMA user_version = 2;")
    db.execute("INSERT INTO api_keys (id, owner, name, secret_hash, sealed_secret, created_at) "
               "VALUES ('00000000000000aa', 'gone', '', 'x', 'x', 0)")
    db.commit()
    db.close()
    store = JobStore(old)
    assert ApiKeys(store).get("00000000000000aa").revoked_at is not None
    store.close()

    store = JobStore(tmp_path / "new")
    keys = ApiKeys(store)
    _, key = keys.add("frank")
    assert keys.authenticate(key) is not None
    with contextlib.closing(sqlite3.connect(store.path)) as other:  # as a script or an old CLI might
        other.execute("DELETE FROM users WHERE name = 'frank'")
        other.commit()
    assert keys.authenticate(key) is None
    store.close()


def test_users_remove_in_process_reports_what_it_did(tmp_path):
    store = JobStore(tmp_path / "data")
    users = Users(store)
    users.add("gina", password="gina-password")
    stamp = users.session_stamp("gina")
    users.set_password("gina", "gina-password-2")
    assert users.session_stamp("gina") not in (None, stamp)
    ApiKeys(store).add("gina")
    done = users.remove("gina")
    assert (done.keys_revoked, done.jobs_kept) == (1, 0) and done.archive.startswith("removed:gina:")
    assert users.session_stamp("gina") is None and ApiKeys(store).list(user="gina") == []
    store.close()
