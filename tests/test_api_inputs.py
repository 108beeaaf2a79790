"""`image_url` intake: data URLs and base64, and URL fetching with its SSRF rules.

No traffic may leave this machine: every TCP connection goes through `api.inputs._connect`, which
a fixture replaces with one that allows loopback only (and fails the test otherwise). "Public"
hosts are names that a patched `getaddrinfo` resolves to a documentation-style public address,
which the patched `_connect` routes to the local server.
"""

from __future__ import annotations

import base64
import datetime
import io
import ipaddress
import socket
import ssl
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from api import inputs
from api.inputs import image_from_url
from cogvideo.errors import ImageError, InvalidRequest

PUBLIC_IP = "93.184.216.34"  # stands for a public host; connections to it are routed to 127.0.0.1


def picture(width=160, height=96) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // (width - 1), y * 255 // (height - 1), np.full_like(x, 90)], -1)
    return Image.fromarray(rgb.astype(np.uint8))


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


PNG = encoded(picture())
JPEG = encoded(picture(200, 120), "JPEG")


# What a refusal says, in its English: one error class (ImageError, a 400) for every kind.
TOO_LARGE = "is too large"
FETCH_OFF = "fetching URLs is turned off"
NOT_ALLOWED = "points to an address that is not allowed"
FETCH_FAILED = "Could not download image_url"
ANY = ""


def refused(says, func, *args, **kwargs):
    """Call, expect an `ImageError` that `says` so, and check it is bilingual and names the field."""
    with pytest.raises(ImageError) as info:
        func(*args, **kwargs)
    exc = info.value
    assert isinstance(exc, InvalidRequest) and exc.status == 400
    assert says in exc.en, exc.en
    assert exc.en.strip() and exc.zh.strip()
    assert exc.en != exc.zh
    assert "image_url" in exc.en and "image_url" in exc.zh
    return exc


# ---------------------------------------------------------------- a local server

class Server:
    def __init__(self, tls_context: ssl.SSLContext | None = None):
        self.hits: Counter[str] = Counter()
        self.hosts: list[str] = []
        self.stop = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.hits[self.path] += 1
                owner.hosts.append(self.headers.get("Host", ""))
                try:
                    owner.route(self)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls_context is not None:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    @property
    def total(self) -> int:
        return sum(self.hits.values())

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    @staticmethod
    def send(handler, status: int, body: bytes = b"", headers: dict | None = None):
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        if "Content-Length" not in (headers or {}):
            handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)

    def route(self, h):
        path = h.path
        if path == "/image.png":
            self.send(h, 200, PNG, {"Content-Type": "image/png"})
        elif path == "/photo.jpg":
            self.send(h, 200, JPEG, {"Content-Type": "image/jpeg"})
        elif path == "/text":
            self.send(h, 200, b"hello, not a picture", {"Content-Type": "text/plain"})
        elif path == "/missing":
            self.send(h, 404, b"nope")
        elif path.startswith("/chain/"):
            left = int(path.rsplit("/", 1)[1])
            target = "/image.png" if left <= 1 else f"/chain/{left - 1}"  # `left` redirects to go
            self.send(h, 302, headers={"Location": target})
        elif path == "/to-loopback":
            self.send(h, 302, headers={"Location": f"http://127.0.0.1:{self.port}/image.png"})
        elif path == "/to-localhost":
            self.send(h, 301, headers={"Location": f"http://localhost:{self.port}/image.png"})
        elif path == "/to-metadata":
            self.send(h, 307, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
        elif path == "/to-private":
            self.send(h, 308, headers={"Location": "http://10.0.0.1/image.png"})
        elif path == "/to-file":
            self.send(h, 302, headers={"Location": "file:///etc/passwd"})
        elif path == "/to-relative":
            self.send(h, 302, headers={"Location": "image.png"})
        elif path == "/huge-advertised":  # claims 2 GB, then streams until the client leaves
            self.send(h, 200, headers={"Content-Length": str(2 * 1024**3)})
            self.stream(h)
        elif path == "/endless":  # no length at all: ends when the connection closes
            h.send_response(200)
            h.send_header("Content-Type", "image/png")
            h.send_header("Connection", "close")
            h.end_headers()
            h.close_connection = True
            self.stream(h)
        elif path == "/slow":  # nothing for a long time
            self.stop.wait(10)
            self.send(h, 200, PNG)
        elif path == "/drip":  # headers at once, then one byte every 50 ms
            self.send(h, 200, headers={"Content-Length": str(len(PNG))})
            for byte in PNG:
                if self.stop.wait(0.05):
                    break
                h.wfile.write(bytes([byte]))
                h.wfile.flush()
        else:
            self.send(h, 404)

    def stream(self, h):
        chunk = b"\0" * 65536
        deadline = time.monotonic() + 20
        while not self.stop.is_set() and time.monotonic() < deadline:
            h.wfile.write(chunk)


@pytest.fixture()
def server():
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def connections(monkeypatch):
    """Every connection `inputs` opens: loopback only; PUBLIC_IP is routed to 127.0.0.1."""
    made: list[str] = []
    real = socket.create_connection

    def connect(address, port, timeout):
        made.append(address)
        if address == PUBLIC_IP:
            return real(("127.0.0.1", port), timeout=timeout)
        ip = ipaddress.ip_address(address)
        if not (ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped and ip.ipv4_mapped.is_loopback)):
            raise AssertionError(f"the code under test tried to connect to {address}")
        return real((address, port), timeout=timeout)

    monkeypatch.setattr(inputs, "_connect", connect)
    return made


@pytest.fixture()
def public_dns(monkeypatch):
    """Names under .example resolve to PUBLIC_IP (or as configured); others really resolve."""
    real = socket.getaddrinfo
    table: dict[str, list[str]] = {}
    calls: Counter[str] = Counter()

    def fake(host, port, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".example"):
            calls[host] += 1
            answers = table.get(host, [PUBLIC_IP])
            if callable(answers):
                answers = answers(calls[host])
            out = []
            for addr in answers:
                if ":" in addr:
                    out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (addr, port, 0, 0)))
                else:
                    out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (addr, port)))
            return out
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return table, calls


# ---------------------------------------------------------------- data URLs and base64

def test_data_url_png_and_jpeg():
    image = image_from_url("data:image/png;base64," + base64.b64encode(PNG).decode())
    assert image.mode == "RGB" and image.size == (160, 96)
    image = image_from_url("data:image/jpeg;base64," + base64.b64encode(JPEG).decode())
    assert image.size == (200, 120)
    # case-insensitive scheme and type, extra parameters, surrounding whitespace
    image = image_from_url("  DATA:IMAGE/PNG;charset=binary;BASE64," + base64.b64encode(PNG).decode() + "\n")
    assert image.size == (160, 96)


def test_plain_base64_with_newlines_without_padding_and_urlsafe():
    wrapped = base64.encodebytes(PNG).decode()  # 76-column lines
    assert "\n" in wrapped
    assert image_from_url(wrapped).size == (160, 96)
    assert image_from_url(" \r\n".join(wrapped.split("\n"))).size == (160, 96)
    unpadded = base64.b64encode(JPEG).decode().rstrip("=")
    assert image_from_url(unpadded).size == (200, 120)
    assert image_from_url("data:image/jpeg;base64," + unpadded).size == (200, 120)
    assert image_from_url(base64.urlsafe_b64encode(PNG).decode()).size == (160, 96)


def test_pixels_match():
    image = image_from_url(base64.b64encode(PNG).decode())
    assert np.array_equal(np.asarray(image), np.asarray(picture()))


def test_huge_base64_refused_fast_without_decoding(monkeypatch):
    def no_decode(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr(inputs.base64, "b64decode", no_decode)
    data = "A" * (30 * 1024 * 1024)
    for value in (data, "data:image/png;base64," + data):
        start = time.perf_counter()
        exc = refused(TOO_LARGE, image_from_url, value)
        assert time.perf_counter() - start < 1.0
        assert "20 MB" in exc.en and "20 MB" in exc.zh


def test_size_cap_is_on_decoded_bytes():
    value = base64.b64encode(PNG).decode()
    refused(TOO_LARGE, image_from_url, value, max_bytes=len(PNG) - 10)
    wrapped = base64.encodebytes(PNG).decode()  # line breaks do not count
    assert image_from_url(wrapped, max_bytes=len(PNG)).size == (160, 96)


@pytest.mark.parametrize("value", [
    "!!!not base64***",
    "abcde",  # a length no base64 can have
    "QUJD===",  # too much padding
    "QU=JD",  # padding in the middle
    "data:image/png;base64,@@@@",
    "data:image/png;base64,",
])
def test_garbage_base64(value):
    exc = refused(ANY, image_from_url, value)
    assert "base64" in exc.en and "base64" in exc.zh


def test_base64_of_text_is_not_an_image():
    text = base64.b64encode(b"Just some words, certainly not a PNG file at all.").decode()
    for value in (text, "data:image/png;base64," + text):
        exc = refused(ANY, image_from_url, value)
        assert "not an image" in exc.en and "不是图片" in exc.zh  # load_image's own message


def test_too_small_image_uses_the_app_message():
    tiny = base64.b64encode(encoded(picture(16, 16))).decode()
    exc = refused(ANY, image_from_url, tiny)
    assert "16×16" in exc.en and "64×64" in exc.en and "16×16" in exc.zh


@pytest.mark.parametrize("value,shown", [
    ("data:text/plain;base64," + base64.b64encode(b"hello").decode(), "text/plain"),
    ("data:text/html;base64," + base64.b64encode(PNG).decode(), "text/html"),
    ("data:;base64," + base64.b64encode(PNG).decode(), "text/plain"),  # RFC 2397 default type
    ("data:application/octet-stream;base64," + base64.b64encode(PNG).decode(), "application/octet-stream"),
])
def test_data_url_of_wrong_type(value, shown):
    exc = refused(ANY, image_from_url, value)
    assert shown in exc.en and shown in exc.zh


def test_data_url_not_base64_or_malformed():
    refused(ANY, image_from_url, "data:image/png,%89PNG%0D%0A")
    refused(ANY, image_from_url, "data:image/png;base64")  # no comma


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_empty(value):
    refused(ANY, image_from_url, value)


@pytest.mark.parametrize("value", [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "ftp://x",
    "gopher://127.0.0.1:70/_hello",
    "javascript:alert(1)",
    "C:\\Windows\\win.ini",
])
def test_other_schemes_always_refused(value, server, connections):
    exc = refused(ANY, image_from_url, value, allow_fetch=True, _allow_loopback_for_tests=True)
    assert "scheme" in exc.en
    assert connections == [] and server.total == 0


# ---------------------------------------------------------------- URLs: fetching off

def test_urls_refused_when_fetching_is_off(server, connections):
    for url in (server.url("/image.png"), server.url("/image.png", scheme="https"), "HTTP://example.com/a.png"):
        exc = refused(FETCH_OFF, image_from_url, url)
        assert "--allow-url-fetch" in exc.en and "--allow-url-fetch" in exc.zh
        assert "data URL" in exc.en and "base64" in exc.en
    refused(FETCH_OFF, image_from_url, server.url("/image.png"), _allow_loopback_for_tests=True)
    assert connections == [] and server.total == 0


# ---------------------------------------------------------------- URLs: SSRF rules

@pytest.mark.parametrize("host", [
    "127.0.0.1", "localhost", "LOCALHOST", "[::1]", "169.254.169.254", "10.0.0.1", "0.0.0.0",
    "192.168.1.10", "172.16.0.5", "100.64.0.1", "224.0.0.1", "255.255.255.255", "[::]",
    "[::ffff:127.0.0.1]", "[::ffff:169.254.169.254]", "[::ffff:10.0.0.1]", "[fe80::1]", "[fc00::1]",
    "[2002:7f00:1::]", "[64:ff9b::a9fe:a9fe]", "127.1", "2130706433", "0x7f000001",
])
def test_internal_addresses_refused_before_connecting(host, server, connections):
    url = f"http://{host}:{server.port}/image.png"
    exc = refused(NOT_ALLOWED, image_from_url, url, allow_fetch=True)
    assert "not allowed" in exc.en
    assert connections == [] and server.total == 0


def test_refusal_does_not_echo_resolved_addresses(public_dns, connections):
    table, _ = public_dns
    table["intranet.example"] = ["10.11.12.13"]
    exc = refused(NOT_ALLOWED, image_from_url, "http://intranet.example/a.png", allow_fetch=True)
    assert "intranet.example" in exc.en and "10.11.12.13" not in exc.en + exc.zh
    assert connections == []


def test_any_bad_address_refuses_the_host(public_dns, connections, server):
    table, _ = public_dns
    table["mixed.example"] = [PUBLIC_IP, "10.0.0.1"]
    table["mixed6.example"] = [PUBLIC_IP, "::1"]
    for name in ("mixed.example", "mixed6.example"):
        refused(NOT_ALLOWED, image_from_url, f"http://{name}:{server.port}/image.png", allow_fetch=True)
    assert connections == [] and server.total == 0


def test_public_host_is_fetched_through_the_vetted_address(public_dns, connections, server):
    _, calls = public_dns
    image = image_from_url(f"http://images.example:{server.port}/image.png", allow_fetch=True)
    assert image.size == (160, 96)
    assert connections == [PUBLIC_IP]
    assert server.hosts == [f"images.example:{server.port}"]  # the original Host header
    assert calls["images.example"] == 1


def test_dns_rebinding_does_not_reach_loopback(public_dns, connections, server):
    table, calls = public_dns
    table["rebind.example"] = lambda n: [PUBLIC_IP] if n == 1 else ["127.0.0.1"]
    image = image_from_url(f"http://rebind.example:{server.port}/image.png", allow_fetch=True)
    assert image.size == (160, 96)
    assert calls["rebind.example"] == 1  # resolved once ...
    assert connections == [PUBLIC_IP]  # ... and the connection went to the vetted address


@pytest.mark.parametrize("path", ["/to-loopback", "/to-localhost", "/to-metadata", "/to-private"])
def test_redirect_from_public_host_to_internal_refused(path, public_dns, connections, server):
    exc = refused(NOT_ALLOWED, image_from_url, f"http://images.example:{server.port}{path}", allow_fetch=True)
    assert "not allowed" in exc.en
    assert server.hits[path] == 1  # the public hop only
    assert server.hits["/image.png"] == 0 and server.total == 1
    assert connections == [PUBLIC_IP]


def test_redirect_to_file_scheme_refused(public_dns, connections, server):
    exc = refused(ANY, image_from_url, f"http://images.example:{server.port}/to-file", allow_fetch=True)
    assert "scheme" in exc.en
    assert server.total == 1


def test_test_hook_allows_loopback_only(server, connections):
    for host in ("169.254.169.254", "10.0.0.1", "0.0.0.0", "192.168.0.1", "[fe80::1]"):
        refused(NOT_ALLOWED, image_from_url, f"http://{host}:{server.port}/image.png",
                allow_fetch=True, _allow_loopback_for_tests=True)
    assert connections == [] and server.total == 0


def test_test_hook_is_keyword_only():
    with pytest.raises(TypeError):
        image_from_url("http://127.0.0.1/", True, 1.0, 100, True)


# ---------------------------------------------------------------- URLs: fetching (loopback hook)

def fetch(url, **kwargs):
    kwargs.setdefault("allow_fetch", True)
    return image_from_url(url, _allow_loopback_for_tests=True, **kwargs)


def test_fetch_png_and_jpeg(server):
    assert fetch(server.url("/image.png")).size == (160, 96)
    assert fetch(server.url("/photo.jpg")).size == (200, 120)
    assert fetch(server.url("/image.png", host="localhost")).size == (160, 96)
    assert server.hosts[-1] == f"localhost:{server.port}"


def test_redirects_up_to_three_followed(server):
    assert fetch(server.url("/chain/3")).size == (160, 96)
    assert fetch(server.url("/to-relative")).size == (160, 96)
    assert server.hits["/image.png"] == 2


def test_more_than_three_redirects_refused(server):
    exc = refused(FETCH_FAILED, fetch, server.url("/chain/4"))
    assert "redirect" in exc.en and "3" in exc.en
    assert server.hits["/image.png"] == 0
    assert [server.hits[f"/chain/{n}"] for n in (4, 3, 2, 1)] == [1, 1, 1, 1]


def test_non_200_status(server):
    exc = refused(FETCH_FAILED, fetch, server.url("/missing"))
    assert "404" in exc.en and "404" in exc.zh


def test_fetched_text_is_not_an_image(server):
    exc = refused(ANY, fetch, server.url("/text"))
    assert "not an image" in exc.en


def test_advertised_2gb_refused_up_front(server):
    start = time.perf_counter()
    refused(TOO_LARGE, fetch, server.url("/huge-advertised"))
    assert time.perf_counter() - start < 2.0


def test_endless_body_is_cut_at_max_bytes(server):
    start = time.perf_counter()
    exc = refused(TOO_LARGE, fetch, server.url("/endless"), max_bytes=2 * 1024 * 1024)
    assert time.perf_counter() - start < 3.0
    assert "2 MB" in exc.en


def test_endless_body_is_cut_at_the_default_cap(server):
    start = time.perf_counter()
    refused(TOO_LARGE, fetch, server.url("/endless"))
    assert time.perf_counter() - start < 5.0


def test_small_cap_refuses_a_real_image(server):
    refused(TOO_LARGE, fetch, server.url("/image.png"), max_bytes=len(PNG) - 1)


def test_slow_server_times_out(server):
    start = time.perf_counter()
    exc = refused(FETCH_FAILED, fetch, server.url("/slow"), timeout=0.5)
    assert time.perf_counter() - start < 2.5
    assert "0.5" in exc.en and "0.5" in exc.zh


def test_dripping_server_hits_the_total_timeout(server):
    # Each byte arrives well within the timeout; only the total bound stops this one.
    start = time.perf_counter()
    refused(FETCH_FAILED, fetch, server.url("/drip"), timeout=0.6)
    assert time.perf_counter() - start < 2.5


def test_connection_refused(connections):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once closed
    exc = refused(FETCH_FAILED, fetch, f"http://127.0.0.1:{port}/image.png")
    assert "127.0.0.1" in exc.en


def test_credentials_in_url_refused(server):
    refused(ANY, fetch, f"http://user:pw@127.0.0.1:{server.port}/image.png")
    assert server.total == 0


# ---------------------------------------------------------------- https: SNI and certificates

@pytest.fixture()
def tls(tmp_path):
    """A self-signed certificate for the name `localhost` only (no IP address in it)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_path, key_path)
    sni: list[str | None] = []
    server_ctx.sni_callback = lambda sock, server_name, ctx: sni.append(server_name)
    srv = Server(server_ctx)
    yield srv, cert_path, sni
    srv.close()


def test_https_verifies_the_url_name_while_connecting_to_the_vetted_ip(tls, monkeypatch, connections):
    srv, cert_path, sni = tls
    monkeypatch.setattr(inputs, "_ssl_context", lambda: ssl.create_default_context(cafile=str(cert_path)))
    url = f"https://localhost:{srv.port}/image.png"
    assert fetch(url).size == (160, 96)
    assert "localhost" in sni  # SNI carries the name ...
    assert set(connections) <= {"127.0.0.1", "::1"}  # ... while the socket went to a vetted address
    assert srv.hosts[-1] == f"localhost:{srv.port}"


def test_https_certificate_for_another_name_refused(tls, monkeypatch):
    srv, cert_path, _ = tls
    monkeypatch.setattr(inputs, "_ssl_context", lambda: ssl.create_default_context(cafile=str(cert_path)))
    exc = refused(FETCH_FAILED, fetch, f"https://127.0.0.1:{srv.port}/image.png")  # cert says localhost
    assert "certificate" in exc.en
    assert srv.total == 0


def test_https_untrusted_certificate_refused(tls):
    srv, _, _ = tls
    refused(FETCH_FAILED, fetch, f"https://localhost:{srv.port}/image.png")
    assert srv.total == 0
