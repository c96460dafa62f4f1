"""The viewer trusts only its own page: Host and Origin checks in front of Solara.

A page on any site can reach a server on 127.0.0.1 (a websocket, a form, a DNS-rebound
name); ``abm.viz.server.HostGuard`` answers only requests whose ``Host`` is the address
served and whose ``Origin``, when sent, is the viewer's own page. Tested on the guard's
rule and against the real server (``python -m abm.viz.server``, as ``abm viz`` runs it).
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import urllib.request
import uuid
from pathlib import Path

import pytest

from abm.viz.server import HostGuard, running_viewer

ROOT = Path(__file__).resolve().parents[1]
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455


def guard(host: str = "127.0.0.1", port: int = 8765) -> HostGuard:
    return HostGuard(app=None, host=host, port=port)


@pytest.mark.parametrize(
    ("host_header", "origin", "allowed"),
    [
        ("127.0.0.1:8765", None, True),  # not a browser page: Host alone decides
        ("127.0.0.1:8765", "http://127.0.0.1:8765", True),
        ("localhost:8765", "http://localhost:8765", True),
        ("localhost:8765", "http://127.0.0.1:8765", True),
        ("127.0.0.1:8765", "null", False),  # a sandboxed frame, a data: or file: page
        ("127.0.0.1:8765", "http://evil.example", False),
        ("127.0.0.1:8765", "http://evil.example:8765", False),
        ("127.0.0.1:8765", "http://127.0.0.1:9999", False),  # another local server
        ("127.0.0.1:8765", "http://127.0.0.1", False),  # port 80 is another origin
        ("127.0.0.1:8765", "https://127.0.0.1:8765", False),
        ("127.0.0.1:8765", "http://user@127.0.0.1:8765", False),
        ("127.0.0.1:8765", "", False),
        ("evil.example:8765", None, False),  # DNS rebinding
        ("127.0.0.1", None, False),  # port 80
        ("127.0.0.1:9999", None, False),
        ("", None, False),
    ],
)
def test_the_guard_allows_only_the_viewers_own_host_and_origin(host_header, origin, allowed):
    headers = {"host": host_header} | ({"origin": origin} if origin is not None else {})
    assert guard().allows(headers) is allowed


def test_bound_to_all_interfaces_any_address_but_no_name():
    g = guard("0.0.0.0", 8765)
    assert g.allows({"host": "192.168.1.20:8765", "origin": "http://192.168.1.20:8765"})
    assert not g.allows({"host": "rebind.evil.example:8765"})
    assert not g.allows({"host": "192.168.1.20:8765", "origin": "http://evil.example:8765"})
    v6 = guard("::1", 8765)
    assert v6.allows({"host": "[::1]:8765", "origin": "http://[::1]:8765"})
    assert v6.allows({"host": "localhost:8765"})


# --------------------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The real viewer server on a free port: (port, its output file)."""
    log = tmp_path_factory.mktemp("viewer") / "server.log"
    with log.open("w") as out:
        with running_viewer(ROOT / "scenarios" / "data_strike.yaml", ROOT, out) as url:
            yield int(url.rsplit(":", 1)[1].strip("/")), log


def http(port: int, path: str = "/", method: str = "GET", **headers: str):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def open_websocket(port: int, origin: str | None, host: str | None = None) -> int:
    """Open a websocket to Solara's kernel channel: the HTTP status of the handshake.

    101 means the server accepted it (its ``Sec-WebSocket-Accept`` is checked).
    """
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET /jupyter/api/kernels/{uuid.uuid4()}/channels?session_id={uuid.uuid4()} HTTP/1.1",
        f"Host: {host or f'127.0.0.1:{port}'}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *([f"Origin: {origin}"] if origin is not None else []),
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    if status == 101:
        fields = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
        digest = hashlib.sha1((key + WS_GUID).encode()).digest()
        assert fields["sec-websocket-accept"] == base64.b64encode(digest).decode()
    return status


def test_websockets_open_only_from_the_viewers_own_page(served):
    port, _ = served
    assert open_websocket(port, f"http://127.0.0.1:{port}") == 101
    assert open_websocket(port, f"http://localhost:{port}", host=f"localhost:{port}") == 101
    assert open_websocket(port, "null") == 403
    assert open_websocket(port, "http://evil.example") == 403
    assert open_websocket(port, f"http://evil.example:{port}") == 403
    assert open_websocket(port, f"http://127.0.0.1:{port + 1}") == 403
    assert open_websocket(port, f"http://127.0.0.1:{port}", host=f"evil.example:{port}") == 403


def test_http_answers_only_its_own_host_and_origin(served):
    port, log = served
    status, headers, body = http(port)
    assert status == 200 and b"<html" in body.lower()
    assert "frame-ancestors 'self'" in headers["content-security-policy"]
    assert http(port, Host=f"evil.example:{port}")[0] == 403  # DNS rebinding
    # A cross-site form can POST without a preflight: Solara's close endpoint is one.
    kernel = uuid.uuid4()
    for origin in ("null", "http://evil.example"):
        status, _, body = http(port, f"/_solara/api/close/{kernel}", "POST", Origin=origin)
        assert status == 403 and b"evil" not in body
    # The page itself, and its own requests, still load; no start-up warning is printed.
    assert http(port, Origin=f"http://127.0.0.1:{port}")[0] == 200
    output = log.read_text()
    assert "Warning" not in output and "samesite" not in output.lower()
