"""Make it again, on every result and every work: 再来一次 (the same settings with a new seed, as a
new job followed on the tab of its mode) and 做同款 (the settings back in the tab's controls, the
seed random).

A result knows its job by the `job_id` in its details (`Handlers._finish` puts it there). The new
job is followed the way a reloaded page follows its job (`live.follow_attached`): its id goes into
the tab's hidden attach box, whose change follows it to the result with the tab's own progress,
outcome area, notice and Cancel. The request is rebuilt below the UI (`jobs/again.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import gradio as gr

from bilingual import Text, pick

from . import live, words
from .handlers import Handlers
from .phone import scroll_to, scroll_to_prompt

NO_RESULT = Text("Make a video first: “Again” repeats the settings of the video shown.",
                 "请先生成一个视频：“再来一次”会用当前视频的设置再生成一次。")


@dataclass(frozen=True)
class ResultTab:
    """One generation tab as "again" and "make one like this" use it."""

    mode: str
    tab_id: str
    controls: dict  # the tab's controls by handler parameter
    parts: live.TabParts  # the outcome area and the hidden attach box that follows a job
    result: list  # the result column, cleared when a work's new job takes the tab
    note_timer: gr.Timer  # the wait note under Generate
    generate: gr.Button
    again: gr.Button
    like: gr.Button


def result_buttons(i18n, tab_id: str) -> tuple[gr.Button, gr.Button]:
    """The row under a result: 再来一次 and 做同款, off until a result is shown."""
    with gr.Row(elem_classes="again-row"):
        again = gr.Button(i18n("again"), size="sm", variant="primary", interactive=False, elem_id=f"{tab_id}-again")
        like = gr.Button(i18n("reuse"), size="sm", interactive=False, elem_id=f"{tab_id}-like")
    return again, like


def job_of(info) -> str:
    """The job id of a shown result (its details), or ""."""
    return str(info.get("job_id") or "") if isinstance(info, dict) else ""


def _submit_again(handlers: Handlers, job_id: str, request: gr.Request):
    """(the new job, "") or (None, the reason, already shown as a toast in the page's language)."""
    lang = handlers.lang(request)
    if not job_id:
        words.warn(NO_RESULT, lang)
        return None, pick(NO_RESULT, lang)
    try:
        return handlers.again(job_id, request), ""
    except gr.Error as exc:
        gr.Warning(str(exc.message), title=pick(live.NOT_MADE, lang))
        return None, str(exc.message)


def _following(handlers: Handlers, tab: ResultTab, page: live.PageParts, job_id: str, request: gr.Request) -> dict:
    """Updates that make `tab` follow the job `job_id`: the attach box (its change follows it), the
    wait note, the page's fast refresh, and Generate and Again off until the job ends."""
    return {tab.parts.attach: job_id, tab.parts.outcome: "", tab.note_timer: handlers.note_start(tab.mode, request),
            tab.generate: gr.update(interactive=False), tab.again: gr.update(interactive=False),
            page.timer: gr.Timer(live.REFRESH_S), page.grace: time.time() + live.GRACE_S}


def _following_outputs(tab: ResultTab, page: live.PageParts) -> list:
    return [tab.parts.attach, tab.parts.outcome, tab.note_timer, tab.generate, tab.again, page.timer, page.grace]


def wire_result(handlers: Handlers, tab: ResultTab, info: gr.JSON, followed: list, page: live.PageParts) -> None:
    """再来一次 and 做同款 under a tab's result. `followed`: the tab's events that follow a job to
    its result (Generate, and the follow of an attached job), after which Again is on again."""
    private = dict(queue=False, api_visibility="private")

    def shown(value):
        on = bool(job_of(value))
        return gr.update(interactive=on), gr.update(interactive=on)

    info.change(shown, info, [tab.again, tab.like], **private)
    # While a job is followed here, a second one would race it for the same result.
    tab.generate.click(lambda: gr.update(interactive=False), None, tab.again, **private)
    for event in followed:
        event.then(lambda value: gr.update(interactive=bool(job_of(value))), info, tab.again, **private)

    def again(value, request: gr.Request):
        job, reason = _submit_again(handlers, job_of(value), request)
        if job is None:
            return {tab.parts.outcome: "⚠️ " + reason, tab.again: gr.update(interactive=bool(job_of(value))),
                    tab.generate: gr.update(interactive=True)}
        return _following(handlers, tab, page, job.id, request)

    # Queued: a refusal's toast reaches the page only through the queue. The click's js brings the
    # result (where the progress shows) on screen.
    tab.again.click(lambda: gr.update(interactive=False), None, tab.again, js=scroll_to(f"#{tab.tab_id}-result"),
                    **private)
    tab.again.click(again, info, _following_outputs(tab, page), api_visibility="private", concurrency_limit=None,
                    show_progress="hidden")

    def like(value, request: gr.Request):
        job_id = job_of(value)
        if not job_id:
            return {}
        try:
            values = handlers.like_values(job_id, request)
        except gr.Error as exc:  # deleted meanwhile
            return {tab.parts.outcome: "⚠️ " + str(exc.message)}
        return live.control_updates(tab.controls, values)

    tab.like.click(like, info, [*tab.controls.values(), tab.parts.outcome], **private).then(
        None, None, None, js=scroll_to_prompt(), **private)


def wire_works(handlers: Handlers, again: gr.Button, selected: gr.State, card: gr.Markdown, tab_bar: gr.Tabs,
               tabs: dict[str, ResultTab], page: live.PageParts) -> None:
    """再来一次 on an opened work: a new job with its settings and a new seed, followed on the tab
    of its mode, which opens with those settings (the seed random) and its old result cleared."""
    from .layout import cleared_result

    private = dict(queue=False, api_visibility="private")
    # On while a work is open (its card shows). The card, not `selected`: a gr.State set by an
    # event reports no change to the page (Gradio 6.31), a mounted Markdown does.
    card.change(lambda text: gr.update(interactive=bool(text)), card, again, **private)

    def again_work(job_id, request: gr.Request):
        job, _ = _submit_again(handlers, job_id, request)
        if job is None:
            return {}
        tab = tabs[job.mode]
        updates = {tab_bar: gr.Tabs(selected=job.mode), **cleared_result(tab.result)}
        updates.update(live.control_updates(tab.controls, handlers.like_values(job.id, request)))
        updates.update(_following(handlers, tab, page, job.id, request))
        return updates

    outputs = [tab_bar]
    for tab in tabs.values():
        outputs += [*tab.result, *tab.controls.values(), *_following_outputs(tab, page)[:-2]]
    outputs += [page.timer, page.grace]
    # A phone stacks the result under the form: bring the followed result on screen.
    results = ", ".join(f"#{tab.tab_id}-result" for tab in tabs.values())
    again.click(again_work, selected, outputs, api_visibility="private", concurrency_limit=None,
                show_progress="hidden").then(None, None, None, js=scroll_to(results), **private)
