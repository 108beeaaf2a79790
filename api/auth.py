"""Who is calling: the one bearer-key check (and per-key rate limit) the REST API and MCP share."""

from __future__ import annotations

from jobs.keys import ApiKeys, Principal

from . import errors
from .errors import ApiError
from .limits import RateLimiter


def authorize(keys: ApiKeys, authorization: str, limiter: RateLimiter) -> Principal:
    """The caller of an `Authorization` header value, or an `ApiError` (401, 429) that says what to do."""
    scheme, _, token = authorization.partition(" ")
    if not keys.any_active():
        raise ApiError(401, errors.AUTH_FAILED,
                       "This server has no API keys yet. An operator adds one with `python -m cogvideo keys add "
                       "NAME`; send it as `Authorization: Bearer <key>`.",
                       "本服务器还没有 API 密钥。请管理员用 `python -m cogvideo keys add 用户名` 添加，"
                       "然后以 `Authorization: Bearer <密钥>` 发送。")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, errors.AUTH_FAILED, "Missing API key: send `Authorization: Bearer <key>`.",
                       "缺少 API 密钥：请在请求头中发送 `Authorization: Bearer <密钥>`。")
    principal = keys.authenticate(token.strip())
    if principal is None:
        raise ApiError(401, errors.AUTH_FAILED, "The API key is unknown, revoked or expired.",
                       "API 密钥无效、已吊销或已过期。")
    wait = limiter.check(principal.key_id)
    if wait is not None:
        raise ApiError(429, errors.RATE_LIMITED,
                       f"Too many requests with this key (limit {limiter.per_minute} a minute). "
                       f"Try again in {wait:.0f} s.",
                       f"该密钥的请求过于频繁（每分钟上限 {limiter.per_minute} 次）。请 {wait:.0f} 秒后重试。",
                       headers={"Retry-After": str(max(1, round(wait)))})
    return principal
