"""POST /api/billing/grant: an operator's payment provider (or their shop's backend) grants a paid
pass (issue 24, item 3). Provider neutral: the caller signs what it sends with a secret it shares
with this server, STUDIO_BILLING_SECRET. Without that secret the route does not exist.

    X-Studio-Timestamp: 1796630400            (Unix seconds; within 5 minutes of this server's clock)
    X-Studio-Signature: sha256=<hex>          (HMAC-SHA256 with the secret over "<timestamp>.<body>")
    {"order_id": "A-1001", "user": "alice", "lane": "vip", "days": 1}

Signing the timestamp with the body makes an old request useless after 5 minutes, and the order id
makes a retry within them harmless: an order is granted once (jobs/orders.py), and every delivery
of it gets the same 200. Bodies are bounded before anything reads them (api/bodies.py: /api/).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bilingual import BilingualError, Text, lang_of
from jobs.job import VIP
from jobs.orders import Orders
from jobs.store import JobStore

from . import errors
from .errors import ApiError
from .zhipu import api_error

PATH = "/api/billing/grant"
MAX_SKEW_S = 300
MAX_BODY = 16 * 1024  # an order is a few hundred bytes


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """What the caller sends as X-Studio-Signature."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


UNSIGNED = Text("The request is not signed with this server's billing secret, or its timestamp is more than 5 "
                "minutes off: sign \"<X-Studio-Timestamp>.<body>\" with HMAC-SHA256 and send it as "
                "X-Studio-Signature: sha256=<hex>.",
                "请求没有用本服务器的计费密钥签名，或时间戳与服务器相差超过 5 分钟：请用 HMAC-SHA256 对 "
                "\"<X-Studio-Timestamp>.<请求体>\" 签名，并以 X-Studio-Signature: sha256=<hex> 发送。")
MALFORMED = Text("The body must be JSON: {\"order_id\": \"...\", \"user\": \"NAME\", \"lane\": \"vip\", \"days\": 1}.",
                 "请求体必须是 JSON：{\"order_id\": \"...\", \"user\": \"用户名\", \"lane\": \"vip\", \"days\": 1}。")


def billing_route(store: JobStore, secret: str, clock: Callable[[], float] = time.time) -> Route:
    orders = Orders(store, clock=clock)

    def refuse(error: ApiError, request: Request) -> JSONResponse:  # in the REST API's own error shape
        return error.response(lang_of(request.headers.get("accept-language")))

    async def grant(request: Request) -> JSONResponse:
        body = await request.body()
        stamp = request.headers.get("x-studio-timestamp", "")
        sent = request.headers.get("x-studio-signature", "")
        fresh = stamp.isdigit() and abs(clock() - int(stamp)) <= MAX_SKEW_S
        if not fresh or not hmac.compare_digest(sent.encode(), signature(secret, stamp, body).encode()):
            return refuse(ApiError(401, errors.AUTH_FAILED, UNSIGNED.en, UNSIGNED.zh), request)
        if len(body) > MAX_BODY:
            return refuse(ApiError(413, errors.BODY_TOO_LARGE, MALFORMED.en, MALFORMED.zh), request)
        try:
            order = json.loads(body)
            order_id, user = order["order_id"], order["user"]
            lane, days = order.get("lane", VIP), order["days"]
            if not isinstance(user, str) or not isinstance(days, (int, float)) or isinstance(days, bool):
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):
            return refuse(ApiError(400, errors.INVALID_PARAMETER, MALFORMED.en, MALFORMED.zh), request)
        try:
            done = orders.grant_once(order_id, user, lane, float(days))
        except BilingualError as exc:  # an unknown user (404), a bad lane or length: the provider's to fix
            return refuse(api_error(exc), request)
        return JSONResponse({"order_id": done.order_id, "user": done.user, "lane": done.lane,
                             "lane_until": done.lane_until, "already_granted": done.again})

    return Route(PATH, grant, methods=["POST"])
