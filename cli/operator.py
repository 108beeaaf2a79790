"""Operator commands: `python -m cogvideo users|jobs|keys|codes ...` and `python -m cogvideo workers`.

They work on the data folder's database directly, with or without the app running (SQLite's WAL
lets both write). A running job cancelled here stops within a second: the app watches for it.
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import json
import os
import re
import sys
import time

from bilingual import Text, pick
from jobs.codes import Codes
from jobs.errors import UserError
from jobs.job import LANES, STANDARD, STATUSES, VIP
from jobs.keys import ApiKeys
from jobs.service import DAY, prune_jobs
from jobs.store import JobStore, default_data_dir
from jobs.users import Users

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": DAY, "w": 7 * DAY, "": DAY}


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `users` and `jobs` command groups to the CLI's parser."""
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument("--data-dir", default=None,
                          help=f"the app's data folder (default: $STUDIO_DATA_DIR or {default_data_dir()})")

    users = commands.add_parser("users", help="who may sign in, and in which lane").add_subparsers(
        dest="action", required=True)
    add = users.add_parser("add", parents=[data_dir], help="add a user (asks for a password)")
    add.add_argument("name")
    add.add_argument("--lane", choices=LANES, default=STANDARD, help="vip = the fast lane")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password", help="the password (visible in `ps` and shell history: prefer the prompt)")
    secret.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    secret.add_argument("--no-password", action="store_true", help="a user for API keys only, who cannot sign in")
    add.add_argument("--admin", action="store_true", help="this user sees the admin console on the page")
    users.add_parser("list", parents=[data_dir], help="list users, lanes and job counts")
    lane = users.add_parser("set-lane", parents=[data_dir], help="move a user to another lane")
    lane.add_argument("name")
    lane.add_argument("lane", choices=LANES)
    admin = users.add_parser("set-admin", parents=[data_dir], help="give or take the admin role (the admin console)")
    admin.add_argument("name")
    admin.add_argument("state", choices=("on", "off"))
    grant = users.add_parser("grant", parents=[data_dir],
                             help="a pass: the fast lane for a while (added to what is left of one), then standard")
    grant.add_argument("name")
    grant.add_argument("--lane", choices=LANES, default=VIP, help="the lane of the pass (vip, the fast lane)")
    grant.add_argument("--days", help="how long, from now or from the end of the pass the user has (1, 0.5...)")
    grant.add_argument("--until", help="when it ends, in this server's local time: 2026-12-31 (00:00 that day) "
                                       "or \"2026-12-31 18:00\"")
    password = users.add_parser("set-password", parents=[data_dir],
                                help="change a user's password (their signed-in pages are signed out)")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    remove = users.add_parser("remove", parents=[data_dir],
                              help="remove a user: revoke their keys, end their sign-ins, cancel their jobs "
                                   "(kept for you until pruned)")
    remove.add_argument("name")

    jobs = commands.add_parser("jobs", help="list, inspect, cancel and prune jobs").add_subparsers(
        dest="action", required=True)
    listing = jobs.add_parser("list", parents=[data_dir], help="jobs, newest first")
    listing.add_argument("--user", help="only this user's jobs")
    listing.add_argument("--status", choices=STATUSES, help="only jobs in this state")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (0: all)")
    listing.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    show = jobs.add_parser("show", parents=[data_dir], help="everything about one job, as JSON")
    show.add_argument("id")
    cancel = jobs.add_parser("cancel", parents=[data_dir], help="cancel a queued or running job")
    cancel.add_argument("id")
    prune = jobs.add_parser("prune", parents=[data_dir], help="delete finished jobs and their files")
    prune.add_argument("--older-than", required=True, type=duration,
                       help="age such as 30d, 12h, 90m (a bare number means days)")
    prune.add_argument("--user", help="only this user's jobs")

    keys = commands.add_parser("keys", help="API keys for the developer API (Zhipu SDK compatible)").add_subparsers(
        dest="action", required=True)
    key_add = keys.add_parser("add", parents=[data_dir],
                              help="create an API key for a user (a new user gets no password); shown only once")
    key_add.add_argument("name", help="the user the key acts for")
    key_add.add_argument("--lane", choices=LANES, default=None,
                         help="put the user in this lane (default: a new user gets standard, others keep theirs)")
    key_add.add_argument("--label", help="a note to tell keys apart, such as the machine or script using it")
    key_list = keys.add_parser("list", parents=[data_dir], help="API keys, newest first (never their secrets)")
    key_list.add_argument("--user", help="only this user's keys")
    key_list.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    key_revoke = keys.add_parser("revoke", parents=[data_dir], help="revoke an API key: it stops working at once")
    key_revoke.add_argument("id", help="the key's id (its first 16 characters) or the whole key")

    codes = commands.add_parser("codes", help="redeem codes (兑换码): passes to hand out or sell").add_subparsers(
        dest="action", required=True)
    make = codes.add_parser("make", parents=[data_dir], help="make codes, each good once for a pass; shown only now")
    make.add_argument("--lane", choices=LANES, default=VIP, help="the lane of the pass (vip, the fast lane)")
    make.add_argument("--days", required=True, help="how long each pass lasts (added to what is left of one)")
    make.add_argument("--count", type=int, default=1, help="how many codes")
    make.add_argument("--expires", help="redeemable until, in this server's local time: 2027-01-31 or "
                                        "\"2027-01-31 18:00\" (default: no end)")
    code_list = codes.add_parser("list", parents=[data_dir], help="codes by id: lane, days, state, who used them")
    code_list.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    code_revoke = codes.add_parser("revoke", parents=[data_dir], help="an unused code stops working at once")
    code_revoke.add_argument("id", nargs="+", help="the code's id from `codes list`")

    workers = commands.add_parser("workers", help="the studio's Ray workers: where each runs, its state, its job")
    workers.add_argument("--ray-address", default=os.environ.get("RAY_ADDRESS") or "auto",
                         help="the cluster: auto (the one on this machine) or HOST:PORT (or env RAY_ADDRESS)")
    workers.add_argument("--json", action="store_true", help="one JSON array, for scripts")


def duration(text: str) -> float:
    match = DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30d, 12h or 90m")
    return float(match.group(1)) * UNIT_S[match.group(2).lower()]


def run(args: argparse.Namespace, lang: str) -> int:
    if args.command == "workers":
        return workers_list(args, lang)
    store = JobStore(args.data_dir or default_data_dir())
    try:
        return ACTIONS[(args.command, args.action)](store, args, lang)
    finally:
        store.close()


# ---------------------------------------------------------------- users

def users_add(store: JobStore, args, lang: str) -> int:
    if args.no_password:
        password = None
    elif args.password is not None:
        password = args.password
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = _prompt_password(lang)
    user = Users(store).add(args.name, password=password, lane=args.lane, admin=args.admin)
    print(pick(Text(f"added {user.name} ({user.lane} lane{'' if user.has_password else ', no password: API keys only'}"
                    f"{', admin' if user.admin else ''})",
                    f"已添加用户 {user.name}（{user.lane} 通道{'' if user.has_password else '，无密码：仅可使用 API 密钥'}"
                    f"{'，管理员' if user.admin else ''}）"), lang))
    return 0


def users_list(store: JobStore, args, lang: str) -> int:
    counts = dict(store.execute("SELECT owner, COUNT(*) FROM jobs GROUP BY owner").fetchall())
    rows = Users(store).list()
    if not rows:
        print(pick(Text("no users: the app is single-user (no sign-in); add one with `users add NAME`",
                        "还没有用户：应用为单用户模式（无需登录）；用 `users add 用户名` 添加"), lang))
        return 0
    print(f"{'name':<24} {'lane':<9} {'password':<8} {'jobs':>5}  {'created':<16}  {'admin':<5}  lane ends")
    for user in rows:
        ends = _local(user.lane_until) if user.lane_until is not None else "-"
        print(f"{user.name:<24} {user.lane:<9} {'yes' if user.has_password else 'no':<8} "
              f"{counts.get(user.name, 0):>5}  {_local(user.created_at):<16}  {'yes' if user.admin else 'no':<5}  {ends}")
    return 0


def users_set_lane(store: JobStore, args, lang: str) -> int:
    user = Users(store).set_lane(args.name, args.lane)
    print(pick(Text(f"{user.name} is now in the {user.lane} lane (for jobs submitted from now on)",
                    f"{user.name} 已切换到 {user.lane} 通道（对此后提交的任务生效）"), lang))
    return 0


def users_set_admin(store: JobStore, args, lang: str) -> int:
    user = Users(store).set_admin(args.name, args.state == "on")
    if user.admin:
        print(pick(Text(f"{user.name} is an admin: the admin console shows on their page once they sign in",
                        f"{user.name} 现在是管理员：登录后页面上会出现管理后台"), lang))
    else:
        print(pick(Text(f"{user.name} is no longer an admin: the admin console refuses them from their next click",
                        f"{user.name} 不再是管理员：从下一次操作起管理后台将拒绝其访问"), lang))
    return 0


def users_grant(store: JobStore, args, lang: str) -> int:
    days = _days(args.days) if args.days is not None else None
    until = _until(args.until) if args.until is not None else None
    users = Users(store)
    before = users.get(args.name)
    user = users.grant(args.name, args.lane, days=days, until=until)
    ends = _local(user.lane_until)
    if before is not None and before.lane == user.lane and before.lane_until is not None:
        print(pick(Text(f"{user.name} is in the {user.lane} lane until {ends} (it was to end {_local(before.lane_until)}), "
                        f"then in the standard lane; jobs already waiting keep their lane",
                        f"{user.name} 在 {user.lane} 通道直到 {ends}（原先到 {_local(before.lane_until)}），之后回到 "
                        f"standard 通道；已在排队的任务保持原通道"), lang))
    else:
        print(pick(Text(f"{user.name} is in the {user.lane} lane until {ends}, then in the standard lane; jobs already "
                        f"waiting keep their lane",
                        f"{user.name} 在 {user.lane} 通道直到 {ends}，之后回到 standard 通道；已在排队的任务保持原通道"),
                   lang))
    return 0


def _days(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UserError(f"--days {text!r}: give a number of days above 0, such as 1 or 0.5.",
                        f"--days {text!r}：请给出大于 0 的天数，例如 1 或 0.5。") from None


def _until(text: str, flag: str = "--until") -> float:
    """A date (00:00 that day) or a date and time, in this machine's local time unless it names its offset."""
    try:
        return datetime.datetime.fromisoformat(text.strip()).timestamp()
    except (ValueError, OverflowError, OSError):
        raise UserError(f"{flag} {text!r}: give a date such as 2026-12-31 or \"2026-12-31 18:00\" (this server's "
                        "local time).",
                        f"{flag} {text!r}：请给出日期，例如 2026-12-31 或 \"2026-12-31 18:00\"（本服务器的当地时间）。"
                        ) from None


def _local(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def users_set_password(store: JobStore, args, lang: str) -> int:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else _prompt_password(lang)
    Users(store).set_password(args.name, password)
    print(pick(Text(f"password of {args.name} changed; their signed-in pages are signed out at their next request",
                    f"已修改 {args.name} 的密码；该用户已登录的页面在下一次请求时退出登录"), lang))
    return 0


def users_remove(store: JobStore, args, lang: str) -> int:
    done = Users(store).remove(args.name)
    print(pick(Text(f"removed {done.name}: {done.keys_revoked} API key(s) revoked, signed-in pages signed out at their "
                    f"next request, {done.jobs_cancelled} queued job(s) cancelled, {done.jobs_stopping} running job(s) "
                    f"stop at their next step (also in the running app). Their {done.jobs_kept} job(s) are kept as "
                    f"{done.archive} until `jobs prune`; a new user named {done.name} starts with none of them.",
                    f"已删除用户 {done.name}：吊销 {done.keys_revoked} 个 API 密钥，已登录的页面在下一次请求时退出登录，"
                    f"取消 {done.jobs_cancelled} 个排队任务，{done.jobs_stopping} 个生成中的任务将在下一步停止（运行中的应用同样"
                    f"立即生效）。其 {done.jobs_kept} 个任务以 {done.archive} 的名义保留到 `jobs prune` 清理为止；"
                    f"以后新建的同名用户看不到这些任务和密钥。"), lang))
    return 0


def _prompt_password(lang: str) -> str:
    if not sys.stdin.isatty():
        raise UserError("No terminal to ask for a password: pass --password-stdin (or --no-password).",
                        "没有可输入密码的终端：请使用 --password-stdin（或 --no-password）。")
    first = getpass.getpass(pick(Text("Password: ", "密码："), lang))
    if getpass.getpass(pick(Text("Again: ", "再次输入："), lang)) != first:
        raise UserError("The two passwords differ; nothing was changed.", "两次输入的密码不一致，未做任何修改。")
    return first


# ---------------------------------------------------------------- jobs

def jobs_list(store: JobStore, args, lang: str) -> int:
    jobs = store.list(owner=args.user, status=args.status, limit=args.limit or None)
    if _json_or_none([j.summary() for j in jobs] if args.json else jobs, args.json, Text("no jobs", "没有任务"), lang):
        return 0
    print(f"{'id':<32} {'status':<9} {'lane':<8} {'model':<13} {'owner':<14} {'created':<16} prompt")
    for job in jobs:
        status = job.status + (f" #{job.position}" if job.position else "")
        if job.status == "running":
            status += f" {round(job.progress * 100)}%"
        prompt = " ".join(job.user_prompt.split())
        # A queued job waits for a worker holding its model: the column says which one.
        print(f"{job.id:<32} {status:<9} {job.lane:<8} {job.model or '-':<13} {job.owner[:14]:<14} "
              f"{time.strftime('%m-%d %H:%M:%S', time.localtime(job.created_at)):<16} {prompt[:60]}")
    return 0


def jobs_show(store: JobStore, args, lang: str) -> int:
    job = _job(store, args.id)
    print(json.dumps({**job.summary(), "owner": job.owner, "attempts": job.attempts, "request": job.request,
                      "info": job.info}, ensure_ascii=False, indent=1))
    return 0


def jobs_cancel(store: JobStore, args, lang: str) -> int:
    job = _job(store, args.id)
    status = store.request_cancel(job.id)
    if status == "cancelled" and job.status == "queued":
        print(pick(Text(f"cancelled {job.id}", f"已取消 {job.id}"), lang))
    elif status == "running":
        print(pick(Text(f"{job.id} is rendering: it stops at its next step (the app checks every second)",
                        f"{job.id} 正在生成：将在下一步停止（应用每秒检查一次）"), lang))
    else:
        print(pick(Text(f"{job.id} had already finished ({job.status}); nothing to cancel",
                        f"{job.id} 已经结束（{job.status}），无需取消"), lang))
    return 0


def jobs_prune(store: JobStore, args, lang: str) -> int:
    removed = prune_jobs(store, owner=args.user, older_than=time.time() - args.older_than)
    print(pick(Text(f"removed {removed} finished job(s) and their files", f"已删除 {removed} 个已结束的任务及其文件"), lang))
    return 0


# ---------------------------------------------------------------- keys

def keys_add(store: JobStore, args, lang: str) -> int:
    existed = Users(store).get(args.name) is not None
    record, key = ApiKeys(store).add(args.name, name=args.label, lane=args.lane)
    lane = Users(store).lane_of(record.owner)
    label_en = f", label {record.name!r}" if record.name else ""
    label_zh = f"，备注 {record.name!r}" if record.name else ""
    if existed:
        print(pick(Text(f"created API key {record.id} for {record.owner} ({lane} lane{label_en})",
                        f"已为 {record.owner} 创建 API 密钥 {record.id}（{lane} 通道{label_zh}）"), lang))
    else:
        print(pick(Text(f"created user {record.owner} ({lane} lane, no password: API keys only) and API key {record.id}"
                        f"{label_en}",
                        f"已创建用户 {record.owner}（{lane} 通道，无密码：仅可使用 API 密钥）及 API 密钥 {record.id}{label_zh}"),
               lang))
    print(pick(Text("The key is shown only this once: store it now. Send it as `Authorization: Bearer <key>`, or use "
                    'ZhipuAiClient(api_key="<key>", base_url="http://HOST:7860/api/paas/v4"). The key:',
                    "密钥只显示这一次，请立即保存。请求时使用 `Authorization: Bearer <密钥>`，或 "
                    'ZhipuAiClient(api_key="<密钥>", base_url="http://HOST:7860/api/paas/v4")。密钥：'), lang))
    print(key)  # the last word of the output, for scripts
    return 0


def keys_list(store: JobStore, args, lang: str) -> int:
    keys = ApiKeys(store).list(user=args.user)
    rows = [{"id": k.id, "user": k.owner, "label": k.name, "created_at": _stamp(k.created_at),
             "last_used_at": _stamp(k.last_used_at), "revoked_at": _stamp(k.revoked_at),
             "active": k.active} for k in keys] if args.json else keys
    if _json_or_none(rows, args.json, Text("no API keys; create one with `keys add NAME`",
                                           "还没有 API 密钥；用 `keys add 用户名` 创建"), lang):
        return 0
    when = lambda stamp, none: time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else none  # noqa: E731
    print(f"{'id':<16} {'user':<16} {'label':<20} {'created':<16} {'last used':<16} revoked")
    for k in keys:
        print(f"{k.id:<16} {k.owner[:16]:<16} {(k.name or '-')[:20]:<20} {when(k.created_at, '-'):<16} "
              f"{when(k.last_used_at, 'never'):<16} {when(k.revoked_at, '-')}")
    return 0


def keys_revoke(store: JobStore, args, lang: str) -> int:
    keys = ApiKeys(store)
    before = keys.get(args.id.strip().split(".", 1)[0].lower())
    record = keys.revoke(args.id)
    if before is not None and before.revoked_at is not None:
        print(pick(Text(f"API key {record.id} of {record.owner} was already revoked",
                        f"{record.owner} 的 API 密钥 {record.id} 此前已被吊销"), lang))
    else:
        print(pick(Text(f"revoked API key {record.id} of {record.owner}; it stops working at once, also in the running app",
                        f"已吊销 {record.owner} 的 API 密钥 {record.id}；立即失效，运行中的应用也一样"), lang))
    return 0


# ---------------------------------------------------------------- workers

def workers_list(args, lang: str) -> int:
    """Ask every VideoWorker on the cluster what it does (Ray's dashboard is not needed)."""
    from jobs.ray_workers import list_workers

    rows = list_workers(args.ray_address)
    if _json_or_none(rows, args.json, Text("no studio workers on this cluster (is the app running with --workers ray?)",
                                           "该集群上没有工作进程（应用是否以 --workers ray 运行？）"), lang):
        return 0
    print(f"{'worker':<15} {'where':<24} {'models':<26} {'state':<13} {'job':<32} {'pid':>7} {'loaded':<9} "
          f"{'done':>5}  since")
    for row in rows:
        gpus = row.get("gpus") or []
        where = f"{row.get('host', '?')}/" + (f"GPU {','.join(gpus)}" if gpus else f"CPU {row.get('index', '?')}")
        state = row["state"] + (f" ({row['error'][0][:60]})" if row.get("error") else "")
        since = time.strftime("%m-%d %H:%M:%S", time.localtime(row["since"])) if row.get("since") else ""
        held = ",".join(row.get("models") or []) or "-"  # the jobs it takes: those for one of its models
        print(f"{row['actor']:<15} {where if 'host' in row else '?':<24} {held:<26} {state:<13} "
              f"{row.get('job_id') or '-':<32} "
              f"{row.get('pid', ''):>7} {','.join(row.get('loaded') or []) or '-':<9} {row.get('jobs_done', ''):>5}  "
              f"{since}")
    studios = sorted({row.get("studio") or row["namespace"] for row in rows})
    print(pick(Text(f"studio: {', '.join(studios)}", f"所属实例：{', '.join(studios)}"), lang))
    return 0


def _stamp(stamp: float | None) -> str | None:
    from jobs.job import _iso

    return _iso(stamp)


def _job(store: JobStore, job_id: str):
    from jobs.errors import JobNotFound

    job = store.get(job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job


# ---------------------------------------------------------------- codes

def codes_make(store: JobStore, args, lang: str) -> int:
    expires = _until(args.expires, "--expires") if args.expires is not None else None
    made = Codes(store).make(args.lane, _days(args.days), args.count, expires_at=expires)
    until = pick(Text(f", redeemable until {_local(expires)}", f"，兑换截止 {_local(expires)}"), lang) if expires else ""
    print(pick(Text(f"{len(made)} code(s) for {float(args.days):g} day(s) in the {args.lane} lane{until}; "
                    "they are shown only now (stored hashed):",
                    f"已生成 {len(made)} 个兑换码，每个开通 {args.lane} 通道 {float(args.days):g} 天{until}；"
                    "兑换码只显示这一次（只保存其哈希）："), lang), file=sys.stderr)
    for code_id, code in made:
        print(f"{code}  {code_id}")
    return 0


def codes_list(store: JobStore, args, lang: str) -> int:
    codes = Codes(store).list()
    now = time.time()
    rows = [{**vars(c), "state": c.state(now)} for c in codes] if args.json else codes
    if _json_or_none(rows, args.json, Text("no codes yet: make some with `codes make --days 1 --count 10`",
                                           "还没有兑换码：用 `codes make --days 1 --count 10` 生成"), lang):
        return 0
    print(f"{'id':<9} {'lane':<9} {'days':>5}  {'state':<8} {'created':<16}  {'expires':<16}  used by")
    for c in codes:
        expires = _local(c.expires_at) if c.expires_at is not None else "-"
        used = f"{c.used_by} ({_local(c.used_at)})" if c.used_at is not None else "-"
        print(f"{c.id:<9} {c.lane:<9} {c.days:>5g}  {c.state(now):<8} {_local(c.created_at):<16}  {expires:<16}  {used}")
    return 0


def codes_revoke(store: JobStore, args, lang: str) -> int:
    codes = Codes(store)
    for code_id in args.id:
        code = codes.revoke(code_id)
        if code.used_at is not None:
            print(pick(Text(f"{code.id} was already used by {code.used_by}: their pass stays",
                            f"{code.id} 已被 {code.used_by} 使用：其通道权益保留"), lang))
        else:
            print(pick(Text(f"{code.id} revoked: it no longer works", f"{code.id} 已作废，不能再兑换"), lang))
    return 0


def _json_or_none(rows: list, as_json: bool, none: Text, lang: str) -> bool:
    """A listing's two short answers: its rows as one JSON array (for scripts), or that there are
    none. True when one of them was the whole answer."""
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return True
    if not rows:
        print(pick(none, lang))
        return True
    return False


ACTIONS = {
    ("users", "add"): users_add,
    ("users", "list"): users_list,
    ("users", "set-lane"): users_set_lane,
    ("users", "grant"): users_grant,
    ("users", "set-admin"): users_set_admin,
    ("users", "set-password"): users_set_password,
    ("users", "remove"): users_remove,
    ("jobs", "list"): jobs_list,
    ("jobs", "show"): jobs_show,
    ("jobs", "cancel"): jobs_cancel,
    ("jobs", "prune"): jobs_prune,
    ("keys", "add"): keys_add,
    ("keys", "list"): keys_list,
    ("keys", "revoke"): keys_revoke,
    ("codes", "make"): codes_make,
    ("codes", "list"): codes_list,
    ("codes", "revoke"): codes_revoke,
}
