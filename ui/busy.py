"""The Generate button as a mini progress: while its tab's job waits or renders, the (disabled,
on a phone sticky) button says so ("排队中 · 第 2 位", "生成中 45%"), where the finger is, and it
comes back as 生成视频 when the job ends (done, failed or cancelled), after a reload mid-job too."""

from __future__ import annotations

import gradio as gr

from bilingual import Text, pick
from jobs import Job
from jobs.job import QUEUED, RUNNING

from .handlers import Handlers


def button_text(job: Job | None, lang: str) -> str | None:
    """The button's words for a job that waits or renders; None when it has none to show."""
    if job is None or job.finished:
        return None
    if job.status == QUEUED:
        if job.position:
            return pick(Text(f"⏳ Queued · #{job.position}", f"⏳ 排队中 · 第 {job.position} 位"), lang)
        return pick(Text("⏳ Queued", "⏳ 排队中"), lang)
    if job.status == RUNNING:
        percent = round(job.progress * 100)
        return pick(Text(f"⏳ Rendering {percent}%", f"⏳ 生成中 {percent}%"), lang)
    return None


def wire(handlers: Handlers, mode: gr.State, timer: gr.Timer, wait_note: gr.Markdown, generate: gr.Button,
         label, attach: gr.Textbox) -> None:
    """Each tick of the tab's wait-note timer also writes the job's state on Generate (`label`, the
    button's own words, once it has ended); a job reattached after a reload starts the timer and
    holds the button as Generate would."""
    private = dict(queue=False, api_visibility="private", show_progress="hidden")

    def tick(tab_mode: str, request: gr.Request):
        note, running = handlers.wait_note(tab_mode, request)
        job = handlers.noted_job(tab_mode, request)
        text = button_text(job, handlers.lang(request))
        if text is not None:
            return note, running, gr.update(value=text, interactive=False)
        if job is None and running is not None and not isinstance(running, gr.Timer):
            return note, running, gr.skip()  # not submitted yet: the button stays as the click left it
        return note, running, gr.update(value=label)

    def reattached(job_id: str, tab_mode: str, request: gr.Request):
        if not job_id:
            return gr.skip(), gr.skip()
        return handlers.note_start(tab_mode, request), gr.update(interactive=False)

    timer.tick(tick, mode, [wait_note, timer, generate], **private)
    attach.change(reattached, [attach, mode], [timer, generate], **private)
