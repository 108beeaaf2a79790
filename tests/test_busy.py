"""The Generate button's words while its tab's job waits or renders (ui/busy.py), in both languages."""

from __future__ import annotations

import time

from jobs.job import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, Job
from ui.busy import button_text


def job(status: str, **fields) -> Job:
    return Job(id="j1", owner="local", lane="standard", mode="t2v", request={}, status=status,
               created_at=time.time(), **fields)


def test_a_waiting_job_says_its_place_in_line():
    assert button_text(job(QUEUED, position=2), "zh") == "⏳ 排队中 · 第 2 位"
    assert button_text(job(QUEUED, position=2), "en") == "⏳ Queued · #2"
    assert button_text(job(QUEUED), "zh") == "⏳ 排队中"  # between the line's re-orderings


def test_a_rendering_job_says_how_far_it_is():
    assert button_text(job(RUNNING, progress=0.454), "zh") == "⏳ 生成中 45%"
    assert button_text(job(RUNNING, progress=0.454), "en") == "⏳ Rendering 45%"


def test_an_ended_job_gives_the_button_back():
    for status in (SUCCEEDED, FAILED, CANCELLED):
        assert button_text(job(status, progress=1.0), "zh") is None
    assert button_text(None, "en") is None
