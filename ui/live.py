"""A page that keeps up by itself: a reloaded tab reattaches to its job, My works and the header
refresh while jobs wait or render, a job's end reaches a tab in the background (title and, when
allowed, a notification), and a failure's reason stays on its tab instead of a closing toast.

The layout builds the parts where they belong and calls the `wire_*` functions; the handlers do
the work. Errors become text in the tab's outcome area: a `gr.Error` raised from an event whose
outputs include the video marks them with bare "Error" badges, and its toast closes by itself.
"""

from __future__ import annotations

import functools
import inspect
import time
from dataclasses import dataclass
from typing import Callable

import gradio as gr

from bilingual import Text, pick

from .handlers import Handlers

# How often an open page looks at its works and the header while something of the user's waits
# or renders (a read of the user's rows and the line's counts, outside Gradio's queue), and how
# often it only asks whether anything does (a job sent from another page, the API, a phone).
REFRESH_S = 2.0
IDLE_S = 10.0
# After Generate the page keeps refreshing this long even before the job exists (a translation
# may run first): the first look must not find "nothing running" and stop.
GRACE_S = 60.0

DONE = Text("✅ Your video is ready", "✅ 视频已生成")
FAILED = Text("⚠️ The video failed", "⚠️ 视频生成失败")
NOT_MADE = Text("The video was not made", "视频未生成")  # the toast's title (Gradio's default is English)

# Gradio puts the class on the block and on the Markdown inside it: style the inner one, and only
# while it holds a message.
CSS = """
div.prose.job-outcome:has(p) {border-left: 4px solid var(--error-border-color, #ef4444);
  padding: 6px 10px; background: var(--error-background-fill, #fef2f2); border-radius: 6px;}
div.prose.job-outcome p {margin: 0;}
"""

# Runs in the browser when a followed job has ended; `notice` is empty for a cancelled job. The
# title changes only while the tab is in the background and comes back when it is shown again.
NOTIFY_JS = """
(notice) => {
  if (!notice) return [];
  if (document.hidden) {
    if (!window.__studioTitle) {
      window.__studioTitle = document.title;
      const back = () => {
        if (document.hidden) return;
        document.title = window.__studioTitle;
        window.__studioTitle = null;
        document.removeEventListener("visibilitychange", back);
      };
      document.addEventListener("visibilitychange", back);
    }
    document.title = notice + " · " + window.__studioTitle;
    try {
      if ("Notification" in window && Notification.permission === "granted") {
        new Notification(notice, {body: window.__studioTitle, tag: "cogvideo-studio"});
      }
    } catch (e) {}  // Android Chrome allows notifications only from a service worker
  }
  return [];
}
"""

# The first Generate is a gesture of the user's own: the only moment a browser lets a page ask.
ASK_JS = """
() => {
  try {
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
  } catch (e) {}
  return [];
}
"""


@dataclass(frozen=True)
class TabParts:
    """What one generation tab adds for live state: the outcome area under Generate, the job id
    it reattached to after a reload, and the browser's notice of a job's end (hidden)."""

    outcome: gr.Markdown
    attach: gr.Textbox
    notice: gr.Textbox


@dataclass(frozen=True)
class PageParts:
    """The page-wide refresh: a timer that ticks while jobs wait or render, and until when it
    keeps ticking regardless (set by Generate)."""

    timer: gr.Timer
    grace: gr.State
    seen: gr.State


def page_parts() -> PageParts:
    return PageParts(gr.Timer(IDLE_S), gr.State(0.0), gr.State({}))


def tab_parts(tab_id: str) -> TabParts:
    outcome = gr.Markdown(elem_id=f"{tab_id}-outcome", elem_classes="job-outcome")
    # Hidden, not invisible: only a mounted component reports a change of its value (a gr.State set
    # by a load event did not start the follow).
    return TabParts(outcome, gr.Textbox(visible="hidden", elem_id=f"{tab_id}-attach"),
                    gr.Textbox(visible="hidden", elem_id=f"{tab_id}-notice"))


def _outcome_text(message: str, lang: str) -> str:
    return "⚠️ " + message if message else pick(FAILED, lang)


def _is_result(value) -> bool:
    return isinstance(value, str) and bool(value)


def on_page(handler: Callable, handlers: Handlers, count: int) -> Callable:
    """The page's Generate: `handler` with two more outputs, the outcome area and the notice. A
    `gr.Error` (a refused request, a failed job) becomes the outcome's text instead of a raise;
    the named API keeps calling `handler` itself, whose callers want the raise."""
    names = list(inspect.signature(handler).parameters)
    at = names.index("request")  # Gradio passes every parameter by position, the request among them

    @functools.wraps(handler)
    async def run(*args):
        lang = handlers.lang(args[at] if at < len(args) else None)
        values = None
        try:
            result = handler(*args)
            if inspect.isasyncgen(result):
                async for values in result:
                    yield (*values, gr.skip(), gr.skip())
            else:
                values = await result
                yield (*values, gr.skip(), gr.skip())
        except gr.Error as exc:
            # A toast as well, for the moment it happens; the outcome area is what stays.
            gr.Warning(str(exc.message), title=pick(NOT_MADE, lang))
            yield (*[gr.skip()] * count, _outcome_text(str(exc.message), lang), pick(FAILED, lang))
            return
        notice = pick(DONE, lang) if values and _is_result(values[0]) else ""
        yield (*[gr.skip()] * count, "", notice)

    return run


def follow_attached(handlers: Handlers, mode: str) -> Callable:
    """After a reload: follow the tab's job (progress, the old photo's still, then the result), with
    the page's Generate outputs and the outcome and notice."""
    old_photo = mode == "old_photo"

    async def follow(job_id: str, request: gr.Request, progress=gr.Progress()):
        lang = handlers.lang(request)
        empty = [gr.skip()] * (3 if old_photo else 2)
        if not job_id:
            yield (*empty, gr.skip(), gr.skip())
            return
        try:
            job = None
            async for job in handlers.follow_job(job_id, mode, request, progress):
                if not job.finished and old_photo:
                    yield gr.skip(), job.preview, gr.skip(), gr.skip(), gr.skip()
            info = handlers.finish_job(job, request)
        except gr.Error as exc:
            yield (*empty, _outcome_text(str(exc.message), lang), pick(FAILED, lang))
            return
        except Exception:  # the job was deleted meanwhile: nothing left to show
            yield (*empty, gr.skip(), gr.skip())
            return
        if info is None:
            yield (*empty, "", "")
        elif old_photo:
            yield job.video, job.info.get("colorized_image") or gr.skip(), info, "", pick(DONE, lang)
        else:
            yield job.video, info, "", pick(DONE, lang)

    return follow


def control_updates(controls: dict[str, gr.components.Component], values: dict) -> dict:
    """A job's settings (`Handlers.reuse_values`) as updates of one tab's controls."""
    updates = {}
    seed = values.get("seed", -1)
    for name, control in controls.items():
        if name == "randomize":
            updates[control] = seed == -1
        elif name == "seed":
            updates[control] = gr.update(value=seed, interactive=seed != -1)
        elif name == "num_frames" and values.get("num_frames") is None:
            continue
        elif name in values:
            updates[control] = values[name]
    return updates


def wire_generation(handlers: Handlers, mode: str, handler: Callable, generate: gr.Button,
                    inputs: list, outputs: list, parts: TabParts, page: PageParts,
                    clears: list) -> list:
    """The page's Generate (private; the named API is wired apart), the follow of a job reattached
    after a reload, and what clears the outcome (Generate, a new picture or clip, a template).
    Returns both events, for what follows a result."""
    private = dict(queue=False, api_visibility="private")
    shown = [*outputs, parts.outcome, parts.notice]
    generate.click(None, None, None, js=ASK_JS, **private)
    generate.click(start_refresh, None, [parts.outcome, page.timer, page.grace], **private)
    for control in clears:
        if control is not None:
            getattr(control, "input", control.change)(lambda: "", None, parts.outcome, **private)
    event = generate.click(on_page(handler, handlers, len(outputs)), inputs, shown, api_visibility="private",
                           concurrency_limit=None, show_progress_on=outputs)
    reattached = parts.attach.change(follow_attached(handlers, mode), parts.attach, shown,
                                     api_visibility="private", concurrency_limit=None, show_progress_on=outputs)
    for followed in (event, reattached):
        followed.then(None, parts.notice, None, js=NOTIFY_JS, **private)
    return [event, reattached]


def start_refresh():
    return "", gr.Timer(REFRESH_S), time.time() + GRACE_S


def wire_reattach(demo: gr.Blocks, handlers: Handlers, tabs: dict[str, tuple[dict, TabParts]],
                  page: PageParts, tab_bar: gr.Tabs | None = None) -> None:
    """On page load: each generation tab gets the newest job of its mode that this user (a visitor
    without sign-in: this address) has waiting or rendering, shown with its settings and followed;
    the refresh runs while any of the user's jobs does. The page opens on the tab of the newest
    (a phone reloads a page it kept in the background: the job is on screen, not on another tab)."""
    outputs = [page.timer] + [parts.attach for _, parts in tabs.values()] \
        + [c for controls, _ in tabs.values() for c in controls.values()] + ([tab_bar] if tab_bar else [])

    def restore(request: gr.Request):
        busy = bool(handlers.unfinished_jobs(request, mine_only=False))
        updates = {page.timer: gr.Timer(REFRESH_S if busy else IDLE_S)}
        newest = {}
        for job in handlers.unfinished_jobs(request):  # newest first
            newest.setdefault(job.mode, job)
        shown = None  # the tab to open on: the one whose job is the newest
        for mode, (controls, parts) in tabs.items():
            job = newest.get(mode)
            if job is None:
                continue
            try:
                values = handlers.reuse_values(job.id, request)
            except gr.Error:
                continue
            updates.update(control_updates(controls, values))
            updates[parts.attach] = job.id
            if shown is None or job.created_at > newest[shown].created_at:
                shown = mode
        if tab_bar is not None and shown is not None:
            updates[tab_bar] = gr.Tabs(selected=shown)
        return updates

    demo.load(restore, None, outputs, queue=False, api_visibility="private")


@dataclass(frozen=True)
class WorksParts:
    """My works' live parts: the gallery, its job ids and header line, the opened work's id, card,
    video and buttons (reuse, extend, cancel, delete)."""

    gallery: gr.Gallery
    ids: gr.State
    header: gr.Markdown
    selected: gr.State
    card: gr.Markdown
    video: gr.Video
    buttons: list


def wire_refresh(handlers: Handlers, page: PageParts, status: gr.Markdown, works: WorksParts) -> None:
    """While the user's jobs wait or render (or just after Generate), every REFRESH_S: the header
    and My works, each sent only when it changed. Otherwise every IDLE_S: the header, and whether
    a job of the user's has appeared (sent from another page), which turns the fast pace on."""
    outputs = [page.timer, page.seen, status, works.gallery, works.ids, works.header, works.card,
               works.video, *works.buttons]

    def refresh(selected: str, seen: dict, grace: float, request: gr.Request):
        seen = dict(seen or {})
        updates = {}
        line = handlers.status_line(request)
        if seen.get("status") != line:
            updates[status] = seen["status"] = line
        busy = bool(handlers.unfinished_jobs(request, mine_only=False)) or time.time() < (grace or 0)
        if busy or seen.get("busy", True):  # the last look after the end shows the end
            items, ids, header = handlers.works_gallery(request)
            listing = [list(item) for item in items], header
            if seen.get("works") != listing:
                seen["works"] = listing
                updates.update({works.gallery: items, works.ids: ids, works.header: header})
            if selected:
                updates.update(_opened(handlers, selected, seen, works, request))
        if seen.get("busy") != busy:
            updates[page.timer] = gr.Timer(REFRESH_S if busy else IDLE_S)
        seen["busy"] = busy
        updates[page.seen] = seen
        return updates

    page.timer.tick(refresh, [works.selected, page.seen, page.grace], outputs, queue=False,
                    api_visibility="private", show_progress="hidden")


def _opened(handlers: Handlers, job_id: str, seen: dict, works: WorksParts, request: gr.Request) -> dict:
    """The opened work's card (and its video once done) when its state changed."""
    try:
        video_file, text, job = handlers.open_work(job_id, request)
    except gr.Error:  # deleted meanwhile
        return {}
    before = seen.get("card")
    seen["card"] = [job_id, text, job.finished]
    if before is not None and before[:2] == [job_id, text]:
        return {}
    _, extend, stop, _ = works.buttons
    updates = {works.card: text, extend: gr.update(interactive=video_file is not None),
               stop: gr.update(interactive=not job.finished)}
    if video_file is not None and before is not None and before[0] == job_id and not before[2]:
        updates[works.video] = video_file  # it has just finished: play it (never restart one playing)
    return updates
