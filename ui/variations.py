"""生成数量 / Variations on the page: one prompt, up to four videos with consecutive seeds.

The jobs are submitted by `jobs.variations` (each a normal job in the user's lane and share of the
line); here the page follows them all ("2/4 完成"), plays the first in the tab's player and shows
all of them in a small gallery under it, each captioned with its seed. The control offers no more
than the user's share of the line left, looked up when the page opens and after each job.

When the share shrank between the page's look and Generate (another page, the API), what fits is
submitted and a warning says how many were not.
"""

from __future__ import annotations

import asyncio

import gradio as gr

from bilingual import Text, pick
from jobs.errors import DailyQuotaSpent
from jobs.job import SUCCEEDED
from jobs.variations import MAX_VARIATIONS, allowance, check_count, submit_variations

from . import words
from .components import OpenRadio

# key: (English, 中文), merged into the page's i18n table.
TEXT: dict[str, tuple[str, str]] = {
    "variations": ("Variations", "生成数量"),
    "variations_info": ("Videos from this prompt, with seeds one apart", "同一提示词一次生成几个视频（种子依次加 1）"),
    "variations_gallery": ("All variations", "全部视频"),
}

# A short strip under the player (Gradio's gallery keeps 450 px and 100 px rows): four covers in a
# row, two on a phone so the ten-digit seed is never cut off.
CSS = """
[id$="-variations"] .grid-container {grid-template-columns: repeat(var(--grid-cols), minmax(60px, 1fr));
  grid-auto-rows: auto; grid-template-rows: none; gap: 6px;}
[id$="-variations"] .thumbnail-item {height: auto;}
[id$="-variations"] .grid-wrap {min-height: 0 !important; overflow-y: auto;}
@media (max-width: 640px) {[id$="-variations"] .grid-container {grid-template-columns: repeat(2, minmax(0, 1fr));}}
[id$="-variations"] .caption-label {max-width: 100%; font-size: .7em; padding: 1px 4px;}
"""

DONE_COUNT = Text("{done}/{total} done", "{done}/{total} 完成")


def control(i18n) -> gr.Radio:
    """The count, 1 to MAX_VARIATIONS; each page narrows it to the user's allowance on load."""
    return OpenRadio(list(range(1, MAX_VARIATIONS + 1)), value=1, label=i18n("variations"),
                     info=i18n("variations_info"), elem_classes="variations-count")


def gallery(tab_id: str, i18n) -> gr.Gallery:
    """The finished variations under the tab's player; hidden until a run of two or more ends."""
    return gr.Gallery(label=i18n("variations_gallery"), columns=4, height="auto", visible=False,
                      allow_preview=True, object_fit="contain", elem_id=f"{tab_id}-variations",
                      fit_columns=False)


def note(cap: int, left: int, lang: str) -> str:
    """Why the control offers fewer than MAX_VARIATIONS (empty when it offers them all)."""
    if left >= MAX_VARIATIONS:
        return ""
    if cap == 1:
        return pick(Text("One video at a time per user on this server, so one variation.",
                         "本站每人同时只能有 1 个视频在排队或生成，所以一次只能生成 1 个。"), lang)
    if left <= 0:
        return pick(Text(f"Your {cap} places in line are taken: wait for a video to finish.",
                         f"你的 {cap} 个排队名额已用完：请等一个视频完成后再生成。"), lang)
    if left < cap:
        return pick(Text(f"You have {cap - left} videos in line; up to {left} more now (at most {cap} at a time).",
                         f"你已有 {cap - left} 个视频在排队或生成，现在最多再生成 {left} 个（每人同时最多 {cap} 个）。"), lang)
    return pick(Text(f"Up to {cap} videos at a time per user on this server.",
                     f"本站每人同时最多 {cap} 个视频在排队或生成。"), lang)


def choices(handlers, current=1, request: gr.Request = None):
    """The control for this user now: choices 1..their allowance (at least 1), the note why."""
    lang = handlers.lang(request)
    service = handlers.service
    left = allowance(service, handlers.owner(request), handlers.quota_key(request))
    top = max(1, left)
    try:
        value = min(int(current or 1), top)
    except (TypeError, ValueError):
        value = 1
    free = service.free_videos_left(handlers.owner(request), handlers.quota_key(request))
    # Where today's free videos are the limit, the line above Generate says so (ui/layout.py).
    why = "" if free is not None and free <= left else note(service.max_queue_per_user, left, lang)
    return gr.Radio(choices=list(range(1, top + 1)), value=value,
                    info=why or pick(Text(*TEXT["variations_info"]), lang))


def done_prefix(handlers, key: str | None, lang: str) -> str:
    """"1/3 done · " for the wait note while the tab follows a run of variations (else empty)."""
    ids = handlers._batches.get(key) if key else None
    if not ids:
        return ""
    done = 0
    for job_id in ids:
        try:
            done += handlers.service.get(job_id).finished
        except Exception:  # deleted meanwhile: it will not be made
            done += 1
    return pick(DONE_COUNT, lang).format(done=done, total=len(ids)) + " · "


def next_in_run(handlers, key: str | None):
    """The first unfinished job of the run of variations the tab follows, or None."""
    for job_id in (handlers._batches.get(key) or []) if key else []:
        try:
            job = handlers.service.get(job_id)
        except Exception:
            continue
        if not job.finished:
            return job
    return None


def fewer_text(submitted: int, asked: int, reason=None) -> Text:
    if isinstance(reason, DailyQuotaSpent):
        return Text(f"Only {submitted} of the {asked} variations fit in today's free videos, so {submitted} were "
                    f"submitted. {reason.en}",
                    f"今天的免费额度只够 {submitted} 个，所以只提交了 {submitted} 个（共选了 {asked} 个）。{reason.zh}")
    return Text(f"Only {submitted} of the {asked} variations fit in your share of the line, so {submitted} were "
                f"submitted. Make more once your videos in line have finished.",
                f"你的排队名额只够 {submitted} 个，所以只提交了 {submitted} 个（共选了 {asked} 个）。"
                "等排队中的视频完成后可以再生成。")


async def generate(handlers, req, count, request: gr.Request | None, progress: gr.Progress | None):
    """Submit `count` variations of `req` (already in English) and follow them all; returns the
    first finished video and its info, with `variations` listing every job (seed, id, status)."""
    lang = handlers.lang(request)
    try:
        batch = await asyncio.to_thread(submit_variations, handlers.service, req, count, handlers.owner(request),
                                        handlers.quota_key(request))
    except Exception as exc:
        raise handlers._error(exc, lang) from None
    if batch.refused:
        words.warn(fewer_text(len(batch.jobs), batch.asked, batch.reason), lang)
    jobs = await follow_all(handlers, batch.jobs, handlers._job_key(request, req.mode), lang, progress)
    made = [job for job in jobs if job.status == SUCCEEDED]
    info = handlers._finish(made[0] if made else jobs[0], lang)  # none made: the first one's reason
    if info is None:
        return gr.skip(), gr.skip()
    if len(made) < len(jobs):
        words.warn(Text(f"{len(jobs) - len(made)} of the {len(jobs)} variations were not made (cancelled or failed).",
                        f"{len(jobs)} 个视频中有 {len(jobs) - len(made)} 个未生成（已取消或失败）。"), lang)
    info["variations"] = [{"job_id": job.id, "seed": job.request.get("seed"), "status": job.status} for job in jobs]
    return made[0].video, info


async def follow_all(handlers, jobs: list, key: str | None, lang: str, progress: gr.Progress | None) -> list:
    """Follow every job until all have ended: "2/4 done" and the current job's place in line or
    time left. The tab's Cancel reaches all of them (see `Handlers.cancel`)."""
    from .handlers import FOLLOW_POLL_S, follow_text

    total = len(jobs)
    if key:
        handlers._batches[key] = [job.id for job in jobs]
    try:
        while True:
            waiting = [job for job in jobs if not job.finished]
            if not waiting:
                return jobs
            current = waiting[0]
            if key:
                handlers._following[key] = current.id  # the wait note and Cancel look here
            done = total - len(waiting)
            fraction, text = follow_text(current, lang, handlers.service.expected(current))
            if fraction is not None or done:
                fraction = (done + (fraction or 0.0)) / total
            if progress is not None:
                count = pick(DONE_COUNT, lang).format(done=done, total=total)
                progress(fraction, desc=f"{count} · {text}")
            await asyncio.sleep(FOLLOW_POLL_S)
            jobs = [job if job.finished else handlers.service.get(job.id) for job in jobs]
    finally:  # all ended, or the page went away (the jobs go on)
        if key:
            if handlers._batches.get(key) == [job.id for job in jobs]:
                del handlers._batches[key]
            if handlers._following.get(key) in {job.id for job in jobs}:
                del handlers._following[key]


def shown(handlers, info, request: gr.Request = None):
    """The gallery for a result's info: every finished variation, captioned with its seed; hidden
    for a single video."""
    runs = (info or {}).get("variations") if isinstance(info, dict) else None
    if not runs or len(runs) < 2:
        return gr.Gallery(value=None, visible=False)
    lang = handlers.lang(request)
    owner = handlers.owner(request)
    items = []
    for run in runs:
        try:
            job = handlers.service.get(run["job_id"], owner)
        except Exception:  # deleted meanwhile
            continue
        if job.status == SUCCEEDED and job.video:
            items.append((job.video, pick(Text(f"Seed {job.seed}", f"种子 {job.seed}"), lang)))
    return gr.Gallery(value=items or None, visible=bool(items))


def count_of(value) -> int:
    """The endpoint's count, checked (1..MAX_VARIATIONS), or the error in the caller's language."""
    return check_count(1 if value is None else value)


def wire(handlers, demo_loads: list, count: gr.Radio, shelf: gr.Gallery, generate: gr.Button, info: gr.JSON) -> None:
    """The gallery follows the result's info (cleared at Generate); the count is narrowed to the
    user's allowance when the page opens. Declare before the generation event (see ui/layout.py)."""
    quick = dict(queue=False, api_visibility="private")
    generate.click(lambda: gr.Gallery(value=None, visible=False), None, shelf, **quick)

    def show(value, request: gr.Request):
        return shown(handlers, value, request)

    def on_load(request: gr.Request):
        return choices(handlers, 1, request)

    info.change(show, info, shelf, **quick)
    demo_loads.append((on_load, count))


def chooser(handlers):
    """The count's refresh after a job (the user's share of the line is back)."""
    def choose(current, request: gr.Request):
        return choices(handlers, current, request)

    return choose
