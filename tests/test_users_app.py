"""Sign-in from the users table, lanes and private works, on a running app (gradio_client)."""

from __future__ import annotations

import pytest
from gradio_client import Client

from jobs import JobStore, Users
from tests.conftest import RunningApp

FAST = dict(num_inference_steps=2, num_frames=9)


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("users-app")
    store = JobStore(tmp / "data")
    users = Users(store)
    users.add("alice", password="alice-password")
    users.add("bob", password="bob-password", lane="vip")
    store.close()
    running = RunningApp(tmp, data_dir=tmp / "data", env={"STUDIO_AUTH": "guest:guest-password"})
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
