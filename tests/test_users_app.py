"""Sign-in from the users table, lanes and private works, on a running app (gradio_client)."""

from __future__ import annotations

import pytest
from gradio_client import Client

from jobs import JobStore, Users
from jobs.keys import ApiKeys
from tests.conftest import InProcessApp

FAST = dict(num_inference_steps=2, num_frames=9)


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("users-app")
    store = JobStore(tmp / "data")
    users = Users(store)
    users.add("alice", password="alice-password")
    users.add("bob", password="bob-password", lane="vip")
    bob_key = ApiKeys(store).add("bob")[1]  # the same user through the REST API
    store.close()
    running = InProcessApp(tmp, data_dir=tmp / "data", env={"STUDIO_AUTH": "guest:guest-password"})
    running.bob_key = bob_key
    yield running
    running.close()


def test_sign_in_is_required_and_checked_against_the_table(signed_app):
    with pytest.raises(Exception):
        Client(signed_app.url, verbose=False)  # no credentials: the API is closed too
    with pytest.raises(Exception):
        Client(signed_app.url, auth=("alice", "wrong-password"), verbose=False)
    Client(signed_app.url, auth=("guest", "guest-password"), verbose=False)  # --auth / STUDIO_AUTH still works


def test_each_user_sees_only_their_works_in_their_lane(signed_app):
    alice = Client(signed_app.url, auth=("alice", "alice-password"), verbose=False)
    bob = Client(signed_app.url, auth=("bob", "bob-password"), verbose=False)
    _, alices = alice.predict(prompt="alice's lighthouse", seed=1, api_name="/text_to_video", **FAST)
    _, bobs = bob.predict(prompt="bob's windmill", seed=2, api_name="/text_to_video", **FAST)
    assert alices["lane"] == "standard" and bobs["lane"] == "vip"
    assert [w["prompt"] for w in alice.predict(api_name="/my_works")] == ["alice's lighthouse"]
    assert [w["prompt"] for w in bob.predict(api_name="/my_works")] == ["bob's windmill"]
    assert bob.predict(job_id=bobs["job_id"], api_name="/job_status")["status"] == "succeeded"
    with pytest.raises(Exception) as err:
        alice.predict(job_id=bobs["job_id"], api_name="/job_status")
    assert "No job" in str(err.value)
    with pytest.raises(Exception):
        alice.predict(job_id=bobs["job_id"], api_name="/cancel_job")


def test_a_users_share_of_the_line_counts_every_face(signed_app):
    """The default --max-queue-per-user (3): three slow jobs of bob's through the REST API, then
    his fourth, from the web UI, is refused in his language; alice's is not."""
    import httpx
    from gradio_client.exceptions import AppError

    base = signed_app.url + "api/paas/v4"
    key = {"Authorization": f"Bearer {signed_app.bob_key}"}
    body = {"model": "cogvideox", "prompt": "bob's slow one", "duration": 4, "num_inference_steps": 150}
    tasks = [httpx.post(base + "/videos/generations", json=body, headers=key, timeout=60).json()["id"] for _ in range(3)]
    try:
        bob = Client(signed_app.url, auth=("bob", "bob-password"), headers={"Accept-Language": "en"}, verbose=False)
        with pytest.raises(AppError) as refused:
            bob.predict(prompt="bob's fourth", api_name="/text_to_video", **FAST)
        assert "You already have 3 videos waiting or rendering" in str(refused.value)
        assert "你已有" not in str(refused.value)
        alice = Client(signed_app.url, auth=("alice", "alice-password"), verbose=False)
        waiting = alice.submit(prompt="alice is not bob", api_name="/text_to_video", **FAST)
    finally:
        for task in tasks:
            httpx.delete(f"{base}/async-result/{task}", headers=key, timeout=60)
    assert waiting.result(timeout=120)[1]["lane"] == "standard"
