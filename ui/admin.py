"""管理后台 / Admin console (issue 24, item 5): users, codes, the line with Cancel, workers, and plots
of what an operator looks at, for users with the admin role (`users add NAME --admin`).

Everything comes from the job store (jobs/console.py), so the console reads the same with local
or Ray workers. The tab is hidden unless the signed-in user is an admin, and every event checks the
role again: a hidden tab is no lock, since a page can call any event by its id.
"""

from __future__ import annotations

import datetime
import time

import gradio as gr
import pandas as pd

from bilingual import Text, pick
from jobs import console
from jobs.job import CANCELLED, LANE_NAMES, RUNNING, STATUS_NAMES

from . import words
from .handlers import WORKER_STATES, Handlers

NOT_ADMIN = Text("This page is for the studio's admins. Ask the operator for the admin role.",
                 "此页面仅供管理员使用。如需权限，请联系运营者开通管理员角色。")
CODE_STATES = {"open": Text("unused", "未使用"), "used": Text("used", "已使用"),
               "expired": Text("expired", "已过期"), "revoked": Text("revoked", "已作废")}

# The console's words: tab, buttons, section titles (Gradio's i18n, like every label of the page).
ADMIN_TEXT: dict[str, tuple[str, str]] = {
    "tab_admin": ("Admin", "管理后台"),
    "admin_refresh": ("🔄 Refresh", "🔄 刷新"),
    "admin_users": ("Users", "用户"),
    "admin_codes": ("Redeem codes", "兑换码"),
    "admin_line": ("The line (rendering, then waiting in start order)", "队列（生成中，然后按开始顺序排队）"),
    "admin_chosen": ("Selected job (click a row of the line)", "选中的任务（点击队列中的一行）"),
    "admin_cancel": ("Cancel the selected job", "取消选中的任务"),
    "admin_workers": ("Workers", "工作进程"),
    "admin_plots": ("#### The last 24 hours", "#### 最近 24 小时"),
}


def _t(lang: str, en: str, zh: str) -> str:
    return pick(Text(en, zh), lang)


def _when(stamp: float | None) -> str:
    return "" if stamp is None else time.strftime("%m-%d %H:%M", time.localtime(stamp))


def _hour(stamp: float) -> datetime.datetime:
    """An hour's start as the plots' time axis reads it: in the server's local time, like every date shown."""
    return datetime.datetime.fromtimestamp(stamp)


def _lane(lane: str, lang: str) -> str:
    return pick(LANE_NAMES.get(lane, Text(lane, lane)), lang)


class AdminConsole:
    """The reads and actions behind the tab, each checking the role first."""

    def __init__(self, handlers: Handlers):
        self.handlers = handlers
        self.store = handlers.service.store

    def is_admin(self, request: gr.Request | None) -> bool:
        return self.handlers.service.users.is_admin(getattr(request, "username", None))

    def require(self, request: gr.Request | None) -> str:
        """The page's language for an admin; a refusal (a toast, no data) for anyone else."""
        lang = self.handlers.lang(request)
        if not self.is_admin(request):
            raise words.error(NOT_ADMIN, lang)
        return lang

    def users_table(self, lang: str, now: float) -> pd.DataFrame:
        yes, no = _t(lang, "yes", "是"), ""
        rows = [[u["name"], _lane(u["lane"], lang), _when(u["lane_until"]) or "—", u["today"], u["total"],
                 yes if u["admin"] else no] for u in console.users_rows(self.store, now)]
        return pd.DataFrame(rows, columns=[_t(lang, "User", "用户"), _t(lang, "Lane", "通道"),
                                           _t(lang, "Pass ends", "通行证到期"), _t(lang, "Videos today", "今日视频"),
                                           _t(lang, "Videos in all", "视频总数"), _t(lang, "Admin", "管理员")])

    def codes_table(self, lang: str, now: float) -> pd.DataFrame:
        rows = [[c["id"], _lane(c["lane"], lang), f"{c['days']:g}", pick(CODE_STATES[c["state"]], lang),
                 _when(c["created_at"]), _when(c["expires_at"]) or "—", c["used_by"] or ""]
                for c in console.codes_rows(self.store, now)]
        return pd.DataFrame(rows, columns=[_t(lang, "Code", "编号"), _t(lang, "Lane", "通道"), _t(lang, "Days", "天数"),
                                           _t(lang, "State", "状态"), _t(lang, "Made", "创建"),
                                           _t(lang, "Expires", "有效期至"), _t(lang, "Used by", "使用者")])

    def line_table(self, lang: str, now: float) -> pd.DataFrame:
        rows = []
        for job in console.line_rows(self.store):
            status = pick(STATUS_NAMES[job["status"]], lang)
            if job["stopping"]:
                status += _t(lang, " (stopping)", "（正在停止）")
            waited = (job["started_at"] or now) - job["created_at"]
            rows.append([job["id"], job["owner"], _lane(job["lane"], lang), words.mode_name(job["mode"], lang), status,
                         job["position"] or "", _when(job["created_at"]), f"{waited / 60:.1f}", job["worker"] or ""])
        return pd.DataFrame(rows, columns=[
            _t(lang, "Job", "任务"), _t(lang, "User", "用户"), _t(lang, "Lane", "通道"), _t(lang, "Kind", "类型"),
            _t(lang, "State", "状态"), _t(lang, "Place", "排位"), _t(lang, "Sent", "提交于"),
            _t(lang, "Waited (min)", "等待（分钟）"), _t(lang, "Worker", "工作进程")])

    def workers_table(self, lang: str, now: float) -> pd.DataFrame:
        done = console.worker_jobs(self.store, now)
        rows = [[w.name, pick(WORKER_STATES.get(w.state, Text(w.state, w.state)), lang), w.job_id or "",
                 done.get(w.name, 0), w.reason[:120]] for w in self.handlers.service.worker_states()]
        return pd.DataFrame(rows, columns=[_t(lang, "Worker", "工作进程"), _t(lang, "State", "状态"),
                                           _t(lang, "Job", "任务"), _t(lang, "Done in 24 h", "24 小时完成"),
                                           _t(lang, "Why", "原因")])

    def plots(self, lang: str, now: float) -> list:
        lane_t, jobs_t, hour_t = _t(lang, "Lane", "通道"), _t(lang, "Jobs", "任务数"), _t(lang, "Hour", "时间")
        per_hour = pd.DataFrame([{"hour": _hour(r["hour"]), "lane": _lane(r["lane"], lang), "jobs": r["jobs"]}
                                 for r in console.jobs_per_hour(self.store, now)])
        waits = pd.DataFrame([{"what": f"{_lane(r['lane'], lang)} · {stat}", "lane": _lane(r["lane"], lang),
                               "seconds": round(r[stat], 1)} for r in console.waits(self.store, now)
                              for stat in ("p50", "p95")], columns=["what", "lane", "seconds"])
        speeds = self.handlers.studio.speed_presets
        speed = lambda preset: pick(speeds[preset].name, lang) if preset in speeds else preset  # noqa: E731
        renders = pd.DataFrame([{"what": f"{r['model']} · {speed(r['speed'])}", "seconds": round(r["median"], 1)}
                                for r in console.render_times(self.store, now)], columns=["what", "seconds"])
        failures = pd.DataFrame([{"hour": _hour(r["hour"]), "failed": r["failed"]}
                                 for r in console.failures_per_hour(self.store, now)])
        seconds = _t(lang, "Seconds", "秒")
        return [
            gr.LinePlot(value=per_hour, x_title=hour_t, y_title=jobs_t, color_title=lane_t,
                        title=_t(lang, "Jobs per hour, by lane", "每小时任务数（按通道）")),
            gr.BarPlot(value=waits, x_title=_t(lang, "Lane · percentile", "通道 · 分位数"), y_title=seconds,
                       title=_t(lang, "Wait before start, p50 / p95 by lane", "开始前等待时间 p50 / p95（按通道）")),
            gr.BarPlot(value=renders, x_title=_t(lang, "Model · speed preset", "模型 · 加速档"), y_title=seconds,
                       title=_t(lang, "Render time (median) by model and preset", "生成耗时中位数（按模型和加速档）")),
            gr.BarPlot(value=failures, x_title=hour_t, y_title=_t(lang, "Failed jobs", "失败任务数"),
                       title=_t(lang, "Failures per hour", "每小时失败数")),
        ]

    def everything(self, request: gr.Request) -> list:
        lang = self.require(request)
        now = time.time()
        return [self.users_table(lang, now), self.codes_table(lang, now), self.line_table(lang, now),
                self.workers_table(lang, now), *self.plots(lang, now)]

    def cancel(self, job_id: str, request: gr.Request):
        lang = self.require(request)
        if not job_id:
            raise words.error(Text("Select a job in the line first, then cancel it.",
                                   "请先在队列中选中一个任务，再取消。"), lang)
        try:
            job = self.handlers.service.cancel(job_id)  # any owner's: the admin acts for the studio
        except Exception as exc:  # an unknown or finished job: a toast in the page's language
            raise self.handlers._error(exc, lang) from None
        if job.status == RUNNING:
            said = Text(f"Job {job.id} stops at its next step.", f"任务 {job.id} 将在下一步停止。")
        elif job.status == CANCELLED:
            said = Text(f"Job {job.id} cancelled.", f"已取消任务 {job.id}。")
        else:
            said = Text(f"Job {job.id} had already ended.", f"任务 {job.id} 已经结束，无需取消。")
        words.info(said, lang)
        return self.line_table(lang, time.time()), ""


def admin_tab(handlers: Handlers, i18n, demo: gr.Blocks) -> gr.Tab:
    """The tab, hidden until a page of an admin opens; build it inside the page's gr.Tabs."""
    admin = AdminConsole(handlers)
    with gr.Tab(i18n("tab_admin"), id="admin", visible=False, elem_id="admin-tab") as tab:
        refresh = gr.Button(i18n("admin_refresh"), size="sm", elem_id="admin-refresh")
        gr.Markdown(i18n("admin_plots"))
        with gr.Row():
            per_hour = gr.LinePlot(x="hour", y="jobs", color="lane", x_axis_format="%H:%M", show_label=False,
                                   height=260,
                                   elem_id="admin-jobs-per-hour")
            # Tilted labels: "普通通道 · p95" side by side overlap on a phone. y from 0: bars compare lengths.
            waits = gr.BarPlot(x="what", y="seconds", sort=None, show_label=False, x_label_angle=-30, y_lim=[0, None],
                               height=260, elem_id="admin-waits")
        with gr.Row():
            renders = gr.BarPlot(x="what", y="seconds", show_label=False, height=260, x_label_angle=-30, y_lim=[0, None],
                                 elem_id="admin-render-times")
            failures = gr.BarPlot(x="hour", y="failed", x_axis_format="%H:%M", show_label=False, height=260,
                                  elem_id="admin-failures")
        line = gr.Dataframe(label=i18n("admin_line"), interactive=False, wrap=False, elem_id="admin-line")
        with gr.Row(equal_height=True):
            # Widths that cannot share a phone's row: the button goes below the field, whole, not in four lines.
            chosen = gr.Textbox(label=i18n("admin_chosen"), interactive=False, max_lines=1, scale=3, min_width=240,
                                elem_id="admin-chosen")
            stop = gr.Button(i18n("admin_cancel"), variant="stop", scale=1, min_width=180, elem_id="admin-cancel")
        workers = gr.Dataframe(label=i18n("admin_workers"), interactive=False, wrap=False, elem_id="admin-workers")
        users = gr.Dataframe(label=i18n("admin_users"), interactive=False, wrap=False, elem_id="admin-users")
        codes = gr.Dataframe(label=i18n("admin_codes"), interactive=False, wrap=False, elem_id="admin-codes")

    def shown(request: gr.Request):
        return gr.Tab(visible=admin.is_admin(request))

    def pick_job(evt: gr.SelectData, request: gr.Request):
        admin.require(request)
        row = evt.row_value or []
        return str(row[0]) if row else ""

    outputs = [users, codes, line, workers, per_hour, waits, renders, failures]
    demo.load(shown, None, tab, queue=False, api_visibility="private")
    # Queued, like Cancel: a refusal (the role taken away while the page is open) is a toast only then.
    for opened in (tab.select, refresh.click):
        opened(admin.everything, None, outputs, api_visibility="private", concurrency_limit=None)
    line.select(pick_job, None, chosen, queue=False, api_visibility="private")
    # Queued: the toast saying what was cancelled reaches the page only through the queue.
    stop.click(admin.cancel, chosen, [line, chosen], api_visibility="private", concurrency_limit=None)
    return tab
