"""Errors in the platform's body shape: `{"error": {"code": "1214", "message": "..."}}`.

Codes mirror Zhipu's where one exists; the rest are ours (documented in docs/api.md).
"""

from __future__ import annotations

import json

from fastapi.responses import JSONResponse

from bilingual import BilingualError, pick

# Zhipu's codes
AUTH_FAILED = "1000"  # missing, unknown or revoked key
MODEL_NOT_FOUND = "1211"
INVALID_PARAMETER = "1214"
RATE_LIMITED = "1302"  # too many requests from this key
# ours
QUEUE_FULL = "1305"
TOO_MANY_JOBS = "1306"  # the caller's user already has --max-queue-per-user videos waiting or rendering
DAILY_QUOTA = "1304"  # the standard lane's free videos of today are used up (--free-videos-per-day)
JOB_NOT_FOUND = "1404"
REQUEST_ID_CONFLICT = "1409"
BODY_TOO_LARGE = "1413"  # the request body is over the route's limit (api/bodies.py)
INTERNAL = "1500"
DISK_FULL = "1507"  # the server's data disk is full (HTTP 507 Insufficient Storage): nothing new can be saved


class ApiError(BilingualError):
    """A refusal in the platform's shape: its own HTTP `status` (each refusal names one, where the
    engine's errors take their class's), the platform's `code`, and headers such as Retry-After."""

    def __init__(self, status: int, code: str, en: str, zh: str | None = None, headers: dict | None = None):
        super().__init__(en, zh)
        self.status = status  # type: ignore[misc]  # per refusal: shadows the class's default
        self.code = code
        self.headers = headers or {}

    def response(self, lang: str) -> JSONResponse:
        return JSONResponse({"error": {"code": self.code, "message": pick(self.text, lang)}},
                            status_code=self.status, headers=self.headers)


def http_error(status: int, method: str, path: str) -> ApiError:
    """Starlette's and FastAPI's own refusals (no such route, a body that cannot be parsed at all, e.g.
    nested deeper than Python's parser goes), in the platform's shape instead of `{"detail": ...}`."""
    path = path if len(path) <= 200 else path[:200] + "…"
    if status == 404:
        return ApiError(404, JOB_NOT_FOUND, f"No such endpoint: {method} {path}. The API's routes are listed at /api/docs.",
                        f"没有这个接口：{method} {path}。接口列表见 /api/docs。")
    if status == 405:
        return ApiError(405, INVALID_PARAMETER, f"{method} is not allowed on {path}. The API's routes are listed at "
                                                "/api/docs.",
                        f"{path} 不支持 {method} 请求。接口列表见 /api/docs。")
    if status == 400:
        return ApiError(400, INVALID_PARAMETER, "The request body could not be read as JSON: send one JSON object "
                                                "(nested at most a few hundred levels deep).",
                        "无法将请求体读取为 JSON：请发送一个 JSON 对象（嵌套不超过几百层）。")
    return ApiError(status, INVALID_PARAMETER if status < 500 else INTERNAL, f"The request failed (HTTP {status}).",
                    f"请求失败（HTTP {status}）。")


# pydantic's complaints that callers meet (a wrong JSON type, a value outside a list), in Chinese;
# the English is pydantic's own `msg`. Placeholders are pydantic's `ctx`.
PROBLEMS_ZH = {
    "string_type": "应为字符串", "string_unicode": "应为有效的 Unicode 文本",
    "string_too_long": "最多 {max_length} 个字符", "string_too_short": "至少 {min_length} 个字符",
    "int_type": "应为整数", "int_parsing": "应为整数", "int_from_float": "应为整数，不能带小数",
    "float_type": "应为数字", "float_parsing": "应为数字", "finite_number": "应为有限的数字（不能是 NaN 或 Infinity）",
    "bool_type": "应为 true 或 false", "bool_parsing": "应为 true 或 false",
    "literal_error": "应为以下之一：{expected}", "enum": "应为以下之一：{expected}",
    "list_type": "应为列表", "dict_type": "应为 JSON 对象", "model_type": "应为 JSON 对象",
    "model_attributes_type": "应为 JSON 对象",
}
_WHERE = ("body", "query", "path", "header")  # FastAPI's prefixes of a field's location


def field_problem(problems: list[dict]) -> tuple[str, str, str]:
    """The first of pydantic's `errors()` about a request's fields as (field, en, zh): the field as
    the caller named it (not pydantic's `image_url.str` for a union), and the value that came as
    JSON (pydantic's text quotes Python: None, {'a': 1}). "body" when the whole body is wrong."""
    first = problems[0] if problems else {}
    loc = [str(part) for part in first.get("loc", ())]
    field = next((part for part in loc if part not in _WHERE), "body")
    kind = first.get("type", "")
    if kind == "missing":
        return field, f"{field} is required: send it.", f"缺少参数 {field}，请提供。"
    value = first.get("input")
    value = value[:100] if isinstance(value, str) else value  # a clip's base64 where a number goes
    got = json.dumps(value, ensure_ascii=False, default=str)
    got = got.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate, shown as its escape
    got = got if len(got) <= 80 else got[:80] + "…"
    context = {name: str(text).replace(" or ", ", ") for name, text in first.get("ctx", {}).items()}
    try:
        zh = PROBLEMS_ZH[kind].format(**context)
    except (KeyError, IndexError):  # a complaint not in the table (or its ctx): said plainly
        zh = "取值无效"
    return field, f"{field}: {first.get('msg', 'invalid value')} (got {got}).", f"参数 {field} {zh}（收到 {got}）。"
