"""The start-up self-check waits for a slow first answer (a loaded machine) instead of stopping."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from gradio import networking


class SlowFirstAnswer(BaseHTTPRequestHandler):
    answered = threading.Event()
    release = threading.Event()

    def do_HEAD(self):  # noqa: N802 (http.server's naming)
        if not SlowFirstAnswer.answered.is_set():
            SlowFirstAnswer.answered.set()
            SlowFirstAnswer.release.wait(4.5)  # longer than Gradio's 3 s timeout
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowFirstAnswer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SlowFirstAnswer.answered.clear()
    SlowFirstAnswer.release.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    SlowFirstAnswer.release.set()
    server.shutdown()


def test_gradios_own_check_gives_up_on_a_slow_first_answer(slow_server):
    # Gradio's own, even after an app started in this process made the patient one the check.
    gradios_own = getattr(networking.url_ok, "__wrapped__", networking.url_ok)
    assert gradios_own(slow_server) is False  # what stopped the start under load


def test_the_patient_check_waits_for_it(slow_server, monkeypatch):
    import app

    # From Gradio's own (restored after the test), whatever an app started in this process set.
    monkeypatch.setattr(networking, "url_ok", getattr(networking.url_ok, "__wrapped__", networking.url_ok))
    app._patient_self_check(deadline_s=30)
    assert networking.url_ok(slow_server) is True


def test_the_patient_check_still_fails_where_nothing_answers(monkeypatch):
    import socket

    import app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setattr(networking, "url_ok", getattr(networking.url_ok, "__wrapped__", networking.url_ok))
    app._patient_self_check(deadline_s=1)
    assert networking.url_ok(f"http://127.0.0.1:{port}/") is False
