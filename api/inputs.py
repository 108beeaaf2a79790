"""The file fields of a video request (`image_url`, `video_url`), turned into files, safely.

Zhipu's API takes `image_url` as a data URL (`data:image/png;base64,...`), plain base64, or an
http(s) URL; our `video_url` (the clip to restyle or extend) takes the same three forms. Data and
base64 are always accepted. URLs are fetched only when the server was started with
`--allow-url-fetch`, and then only from public addresses:

* the host is resolved once (`socket.getaddrinfo`) and refused if *any* address is private,
  loopback, link-local (169.254.169.254 included), multicast, reserved, unspecified, shared
  (100.64/10), or an IPv6 form that embeds one of those (IPv4-mapped, 6to4, NAT64);
* the connection goes to the vetted address itself, never to the name again (DNS rebinding),
  with the original Host header and, for https, the original name for SNI and certificate checks;
* redirects are not followed by the library: at most `MAX_REDIRECTS` are followed here, each
  Location vetted like the first URL;
* `timeout` bounds name resolution plus connecting plus the whole download, and the body is
  read in pieces and abandoned as soon as it passes `max_bytes` (a Content-Length over it is
  refused before any body is read).

A picture is decoded by `cogvideo.media.codec.load_image`, a clip is written to a file and checked by
`cogvideo.media.clips.probe_clip`, so the messages about unreadable, damaged, too small or too long
files are the same as for uploads in the studio. Every error is an `ImageError` (for `image_url`)
or a `VideoError` (for `video_url`), both `InvalidRequest`s (400), with English and Chinese
messages that name the field and say what went wrong (too large, fetching turned off, an address
not allowed, a failed download, data that is not a picture or a clip).
"""

from __future__ import annotations

import base64
import binascii
import http.client
import ipaddress
import re
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from PIL import Image

from cogvideo.errors import ImageError, InvalidRequest, VideoError
from cogvideo.media.codec import load_image

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # decoded bytes, for base64/data URLs and fetched files
MAX_VIDEO_BYTES = 100 * 1024 * 1024  # the same for a clip (the studio then allows 60 s, 4096 px)
VIDEO_FETCH_TIMEOUT_S = 60.0  # 100 MB in 60 s needs about 14 Mbit/s from the other host
MAX_REDIRECTS = 3
FIELD = "image_url"

_CHUNK = 64 * 1024
_REDIRECTS = {301, 302, 303, 307, 308}
_DATA_URL = re.compile(r"^data:([^,]*),", re.IGNORECASE | re.DOTALL)
_WHITESPACE_BYTES = b" \t\n\r\v\f"
_URL_SAFE = bytes.maketrans(b"-_", b"+/")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class FileField:
    """A request field that carries a file as a data URL, base64 or URL: its words and its errors."""

    name: str  # the JSON field, quoted in every message
    media: str  # the data URL's top-level type ("image": data:image/...)
    example_type: str  # the data URL type shown in examples
    kind_en: str  # "image data", "the image in ..."
    noun_en: str  # "send the picture as ..."
    noun_zh: str
    formats_en: str  # "base64 of a JPEG, PNG or WebP file"
    formats_zh: str
    types_en: str  # the data URL types to send instead of a wrong one
    types_zh: str
    error: type[InvalidRequest]  # ImageError or VideoError: the field's every refusal

    @property
    def example(self) -> str:
        return f"data:{self.example_type};base64,..."

    def fail(self, en: str, zh: str) -> InvalidRequest:
        return self.error(en, zh)


IMAGE = FileField(
    name=FIELD, media="image", example_type="image/png", kind_en="image", noun_en="picture", noun_zh="图片",
    formats_en="JPEG, PNG or WebP", formats_zh="JPEG/PNG/WebP",
    types_en="data:image/png, data:image/jpeg or data:image/webp",
    types_zh="data:image/png、data:image/jpeg 或 data:image/webp",
    error=ImageError,
)
VIDEO = FileField(
    name="video_url", media="video", example_type="video/mp4", kind_en="video", noun_en="video", noun_zh="视频",
    formats_en="MP4, MOV, WebM or MKV", formats_zh="MP4/MOV/WebM/MKV",
    types_en="data:video/mp4, data:video/quicktime or data:video/webm",
    types_zh="data:video/mp4、data:video/quicktime 或 data:video/webm",
    error=VideoError,
)


def _too_large(field: FileField, max_bytes: int) -> InvalidRequest:
    mb = max_bytes / (1024 * 1024)
    return field.fail(
        f"The {field.kind_en} in {field.name} is too large: the limit is {mb:g} MB. Send a smaller {field.noun_en}.",
        f"{field.name} 中的{field.noun_zh}太大：上限为 {mb:g} MB。请发送更小的{field.noun_zh}。",
    )


# ---------------------------------------------------------------- entry points

def image_from_url(
    value: str,
    allow_fetch: bool = False,
    timeout: float = 10.0,
    max_bytes: int = MAX_IMAGE_BYTES,
    *,
    _allow_loopback_for_tests: bool = False,
) -> Image.Image:
    """Turn an `image_url` value (data URL, plain base64, or http(s) URL) into an RGB picture.

    `allow_fetch` enables http(s) URLs (the server's `--allow-url-fetch`); `timeout` is the total
    time in seconds for one fetch, redirects included; `max_bytes` caps the decoded image bytes.
    `_allow_loopback_for_tests` is for the test suite only: it lets loopback addresses (and only
    those) through the address check, so tests can fetch from a server on 127.0.0.1.
    Raises `ImageError` with English and Chinese messages.
    """
    data, _type = file_bytes(IMAGE, value, allow_fetch, timeout, max_bytes, _allow_loopback_for_tests)
    return _decode_image(data)


def video_from_url(
    value: str,
    folder: str | Path,
    allow_fetch: bool = False,
    timeout: float = VIDEO_FETCH_TIMEOUT_S,
    max_bytes: int = MAX_VIDEO_BYTES,
    *,
    _allow_loopback_for_tests: bool = False,
) -> Path:
    """Turn a `video_url` value (data URL, plain base64, or http(s) URL) into a checked clip file.

    The file is written to `folder` (the caller removes it) as `clip.<ext>`, the extension
    sniffed from the bytes (MP4, MOV, WebM, Matroska, AVI), else from the data URL's type. Its
    header is then checked like an upload's (`cogvideo.media.clips.probe_clip`: a video stream, at most
    60 s and 4096 px). Arguments as for `image_from_url`. Raises `VideoError`.
    """
    from cogvideo.media.clips import probe_clip

    data, media_type = file_bytes(VIDEO, value, allow_fetch, timeout, max_bytes, _allow_loopback_for_tests)
    path = Path(folder) / f"clip{video_suffix(data[:64], media_type)}"
    path.write_bytes(data)
    del data
    try:
        probe_clip(path)
    except VideoError as exc:
        raise VideoError(f"video_url: {exc.en}", f"video_url：{exc.zh}") from exc
    return path


# Data URL types -> extension, for bytes `video_suffix` does not recognise. ffmpeg reads the content
# whatever the name; the extension is for the people and tools that look at the job's input folder.
_VIDEO_TYPES = {"video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm",
                "video/x-matroska": ".mkv", "video/x-msvideo": ".avi", "video/avi": ".avi"}


def video_suffix(head: bytes, media_type: str | None = None) -> str:
    """The file extension for a clip from its first bytes, else its data URL type, else `.bin`."""
    if head[4:8] == b"ftyp":
        return ".mov" if head[8:12] == b"qt  " else ".mp4"
    if head[:4] == b"\x1aE\xdf\xa3":  # EBML: WebM is Matroska with the doc type "webm"
        return ".webm" if b"webm" in head else ".mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ".avi"
    return _VIDEO_TYPES.get(media_type or "", ".bin")


def file_bytes(field: FileField, value: str, allow_fetch: bool, timeout: float, max_bytes: int,
               allow_loopback: bool = False) -> tuple[bytes, str | None]:
    """The bytes of a file field's value, and the data URL's media type (None for base64 and URLs)."""
    name = field.name
    if not isinstance(value, str) or not value.strip():
        raise field.fail(
            f"{name} is empty. Send a data URL ({field.example}) or base64 {field.kind_en} data.",
            f"{name} 为空。请发送 data URL（{field.example}）或 base64 编码的{field.noun_zh}数据。",
        )
    text = value.strip()
    head = text[:16].lower()
    if head.startswith("data:"):
        return _data_url_bytes(field, text, max_bytes)
    if head.startswith(("http://", "https://")):
        if not allow_fetch:
            raise field.fail(
                f"{name} is a web address, but fetching URLs is turned off on this server. Send the "
                f"{field.noun_en} itself as a data URL ({field.example}) or base64, or start the "
                "server with --allow-url-fetch.",
                f"{name} 是网址，但此服务器已关闭网址下载。请直接发送{field.noun_zh}的 data URL"
                f"（{field.example}）或 base64 数据，或使用 --allow-url-fetch 启动服务器。",
            )
        return _fetch(field, text, timeout, max_bytes, allow_loopback), None
    if ":" in text[:64]:  # base64 never contains ':'; anything with a scheme is a URL
        scheme = text.split(":", 1)[0][:20]
        raise field.fail(
            f"{name} uses an unsupported scheme ({scheme}:). Send a data URL "
            f"({field.example}), base64 {field.kind_en} data, or an http(s) URL.",
            f"{name} 使用了不支持的协议（{scheme}:）。请发送 data URL（{field.example}）、"
            f"base64 {field.noun_zh}数据或 http(s) 网址。",
        )
    return _base64_bytes(field, text, max_bytes), None


# ---------------------------------------------------------------- data URLs and base64

def _data_url_bytes(field: FileField, text: str, max_bytes: int) -> tuple[bytes, str]:
    name, form = field.name, f"data:{field.example_type};base64"
    match = _DATA_URL.match(text[:1024])
    if not match:
        raise field.fail(
            f"{name} is not a valid data URL. Use the form {form},<data>.",
            f"{name} 不是有效的 data URL。请使用 {form},<数据> 的格式。",
        )
    params = [p.strip().lower() for p in match.group(1).split(";")]
    media_type = params[0] or "text/plain"  # RFC 2397's default
    if not re.fullmatch(rf"{field.media}/[a-z0-9.+\-]+", media_type):
        shown = media_type[:40]
        article = "an" if field.kind_en[0] in "aeiou" else "a"
        raise field.fail(
            f"{name} is a data URL of type {shown}, not {article} {field.kind_en}. Send {field.types_en}.",
            f"{name} 是 {shown} 类型的 data URL，不是{field.noun_zh}。请发送 {field.types_zh}。",
        )
    if "base64" not in params[1:]:
        raise field.fail(
            f"{name} must be base64-encoded: use {form},<data>.",
            f"{name} 必须是 base64 编码：请使用 {form},<数据>。",
        )
    return _base64_bytes(field, text[match.end():], max_bytes), media_type


def _base64_bytes(field: FileField, data: str, max_bytes: int) -> bytes:
    # Size first, on the raw length, before touching the data: 4 characters carry 3 bytes. A
    # little slack lets line-wrapped base64 through to the exact check below.
    if len(data) // 4 * 3 > max_bytes + max_bytes // 16 + 1024:
        raise _too_large(field, max_bytes)
    # As bytes from here: bytes.translate runs at memory speed, where a regular expression over a
    # 130 MB clip takes seconds. b64decode(validate=True) checks the alphabet and the padding.
    try:
        raw = data.encode("ascii")
    except UnicodeEncodeError:
        raise _bad_base64(field) from None
    raw = raw.translate(None, _WHITESPACE_BYTES)  # line-wrapped base64
    body = raw.rstrip(b"=")
    if len(body) * 3 // 4 > max_bytes:
        raise _too_large(field, max_bytes)
    if not body or len(body) % 4 == 1 or len(raw) - len(body) > 2:
        raise _bad_base64(field)
    del raw
    if b"-" in body or b"_" in body:  # the URL-safe alphabet too
        body = body.translate(_URL_SAFE)
    try:
        return base64.b64decode(body + b"=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad_base64(field) from exc


def _bad_base64(field: FileField) -> InvalidRequest:
    return field.fail(
        f"{field.name} is not valid base64 {field.kind_en} data. Send a data URL ({field.example}), "
        f"base64 of a {field.formats_en} file, or an http(s) URL.",
        f"{field.name} 不是有效的 base64 {field.noun_zh}数据。请发送 data URL（{field.example}）、"
        f"{field.formats_zh} 文件的 base64 编码，或 http(s) 网址。",
    )


def _decode_image(data: bytes) -> Image.Image:
    """Decode with the app's own `load_image` (via a temp file named after the field)."""
    with tempfile.TemporaryDirectory(prefix="cogvideo-image-url-") as folder:
        path = Path(folder) / FIELD
        path.write_bytes(data)
        del data
        try:
            image = load_image(path)
            image.load()
        except ImageError as exc:
            raise ImageError(f"image_url: {exc.en}", f"image_url：{exc.zh}") from exc
    return image


# ---------------------------------------------------------------- fetching

def _address_allowed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _address_allowed(embedded, allow_loopback)
        if ip.teredo is not None:
            return False
    if allow_loopback and ip.is_loopback:
        return True
    if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified):
        return False
    return ip.is_global


def _not_allowed(field: FileField, host: str) -> InvalidRequest:
    host = host[:100]
    return field.fail(
        f"{field.name} points to an address that is not allowed ({host}): only public internet "
        f"addresses can be fetched. Send the {field.noun_en} as a data URL or base64 instead.",
        f"{field.name} 指向不允许访问的地址（{host}）：只能下载公网地址上的{field.noun_zh}。请改为发送"
        f"{field.noun_zh}的 data URL 或 base64 数据。",
    )


def _fetch_failed(field: FileField, host: str, en: str, zh: str) -> InvalidRequest:
    host = host[:100]
    return field.fail(f"Could not download {field.name} from {host}: {en}", f"无法从 {host} 下载 {field.name}：{zh}")


def _timed_out(field: FileField, host: str, timeout: float) -> InvalidRequest:
    return _fetch_failed(
        field, host,
        f"it took longer than {timeout:g} seconds. Send the {field.noun_en} as a data URL or base64 instead.",
        f"超过 {timeout:g} 秒仍未完成。请改为发送{field.noun_zh}的 data URL 或 base64 数据。",
    )


def _split(field: FileField, url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s) URL, or an error."""
    name = field.name
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise field.fail(f"{name} is not a valid URL.", f"{name} 不是有效的网址。") from exc
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("http", "https"):
        raise field.fail(
            f"{name} (or a redirect from it) uses an unsupported scheme ({scheme[:20]}:). Only "
            "http and https URLs can be fetched.",
            f"{name}（或其重定向）使用了不支持的协议（{scheme[:20]}:）。只能下载 http 和 https 网址。",
        )
    if not host or parts.username is not None or parts.password is not None:
        raise field.fail(
            f"{name} is not a valid URL: it needs a host name and must not contain a user name "
            "or password.",
            f"{name} 不是有效的网址：必须包含主机名，且不能包含用户名或密码。",
        )
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise field.fail(
            f"{name} is not a valid URL: it contains spaces or control characters.",
            f"{name} 不是有效的网址：其中含有空格或控制字符。",
        )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def _resolve(field: FileField, host: str, port: int, deadline: float, timeout: float,
             allow_loopback: bool) -> list[str]:
    """Every address of `host`, all vetted; refused if any one is not allowed."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        result: dict = {}

        def lookup() -> None:
            try:
                result["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as exc:
                result["error"] = exc

        worker = threading.Thread(target=lookup, name=f"{field.name}-dns", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            raise _timed_out(field, host, timeout)
        if "error" in result or not result.get("infos"):
            raise _fetch_failed(
                field, host, "the host name could not be found. Check the URL.", "找不到该主机名。请检查网址。"
            ) from result.get("error")
        addresses = []
        for family, _type, _proto, _name, sockaddr in result["infos"]:
            if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in addresses:
                addresses.append(sockaddr[0])
    if not addresses:
        raise _not_allowed(field, host)
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise _not_allowed(field, host) from None
        if not _address_allowed(ip, allow_loopback):
            raise _not_allowed(field, host)
    return addresses


def _connect(address: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to an already vetted IP address (a seam for tests)."""
    return socket.create_connection((address, port), timeout=timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a vetted IP address; `host` stays the URL's name (for the Host header)."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _connect(self._address, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a vetted IP address; SNI and the certificate check use the URL's name."""

    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address

    def connect(self) -> None:
        sock = _connect(self._address, self.port, self.timeout)
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _fetch(field: FileField, url: str, timeout: float, max_bytes: int, allow_loopback: bool) -> bytes:
    deadline = time.monotonic() + timeout
    for _hop in range(MAX_REDIRECTS + 1):
        scheme, host, port, path = _split(field, url)
        addresses = _resolve(field, host, port, deadline, timeout, allow_loopback)
        status, location, body = _get(field, scheme, host, port, path, addresses, deadline, timeout, max_bytes)
        if status in _REDIRECTS:
            if not location:
                raise _fetch_failed(field, host, f"the server answered {status} without a Location.",
                                    f"服务器返回 {status}，但没有给出 Location。")
            url = urljoin(url, location)
            continue
        if status != 200:
            raise _fetch_failed(
                field, host,
                f"the server answered HTTP {status}. Check the URL, or send the {field.noun_en} as a data URL.",
                f"服务器返回 HTTP {status}。请检查网址，或改为发送{field.noun_zh}的 data URL。",
            )
        return body
    raise _fetch_failed(
        field, host,
        f"it redirects more than {MAX_REDIRECTS} times. Send the final address of the {field.noun_en}.",
        f"重定向超过 {MAX_REDIRECTS} 次。请发送{field.noun_zh}的最终地址。",
    )


def _get(field: FileField, scheme: str, host: str, port: int, path: str, addresses: list[str], deadline: float,
         timeout: float, max_bytes: int) -> tuple[int, str | None, bytes]:
    """One GET, without following redirects: (status, Location, body if 200)."""
    conn = None
    error: BaseException | None = None
    for address in addresses:  # like create_connection: the first address that answers
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _timed_out(field, host, timeout)
        if scheme == "https":
            candidate = _PinnedHTTPSConnection(host, port, address, remaining, _ssl_context())
        else:
            candidate = _PinnedHTTPConnection(host, port, address, remaining)
        try:
            candidate.connect()
        except (OSError, http.client.HTTPException) as exc:
            candidate.close()
            error = exc
            continue
        conn = candidate
        break
    if conn is None:
        if isinstance(error, TimeoutError) or time.monotonic() >= deadline:
            raise _timed_out(field, host, timeout) from error
        if isinstance(error, ssl.SSLError):
            raise _fetch_failed(field, host, "the secure (https) connection failed: the certificate is not valid.",
                                "安全连接（https）失败：证书无效。") from error
        raise _fetch_failed(field, host, "the connection failed.", "连接失败。") from error

    # A watchdog bounds the whole exchange: a server that drips bytes cannot stretch it.
    # (Kept here: http.client drops `conn.sock` once it sees `Connection: close`, while the
    # response still reads from the same socket.)
    expired = threading.Event()
    sock = conn.sock

    def expire() -> None:
        expired.set()
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)  # Host: the URL's name
        conn.putheader("Accept", f"{field.media}/*")
        conn.putheader("Accept-Encoding", "identity")
        conn.putheader("User-Agent", "CogVideoX-Studio")
        conn.putheader("Connection", "close")
        conn.endheaders()
        response = conn.getresponse()
        if response.status != 200:
            location = response.getheader("Location")
            return response.status, location, b""
        length = response.getheader("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > max_bytes:
            raise _too_large(field, max_bytes)
        chunks, total = [], 0
        while True:
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise _too_large(field, max_bytes)
            chunks.append(chunk)
        if expired.is_set():
            raise _timed_out(field, host, timeout)
        if response.length:  # the server closed before sending all it announced
            raise _fetch_failed(field, host, f"the connection closed before the whole {field.noun_en} arrived.",
                                f"{field.noun_zh}尚未完整接收，连接就已关闭。")
        return 200, None, b"".join(chunks)
    except InvalidRequest:  # ours, from the checks above: it already says what went wrong
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if expired.is_set() or isinstance(exc, TimeoutError):
            raise _timed_out(field, host, timeout) from exc
        raise _fetch_failed(field, host, "the connection failed.", "连接失败。") from exc
    finally:
        watchdog.cancel()
        conn.close()
