"""Starting the viewer's web server: ``solara run`` of :mod:`abm.viz.app`, offline.

The assumption: the viewer is a local tool. The server listens on 127.0.0.1 unless told
otherwise, runs in Solara's production mode (no file watcher, which also avoids the
inotify limit), and makes no network calls of its own: the version check and the
usage telemetry Solara does by default are switched off. The scenario reaches the
app through the ``ABM_VIZ_SCENARIO`` environment variable.

A loopback server is still reachable from any web page the user opens: through DNS
rebinding (a hostile name that resolves to 127.0.0.1, so the browser sends that name as
``Host``), and directly, since a page may open a websocket or send a form to any
address (a sandboxed iframe sends ``Origin: null``). So the server trusts only its own
page: a request must carry a ``Host`` that is the address it bound (or ``localhost``
when it bound a loopback address; any IP literal when it bound all interfaces), on its
port, and a request that carries an ``Origin`` (every websocket a browser opens, every
cross-site form) must come from such an address over ``http``; ``null`` is refused.
Everything else gets 403 (a websocket: closed before it opens) before Solara sees it.
Pages are also served with ``frame-ancestors 'self'``, so no other site can frame the
viewer. ``python -m abm.viz.server`` runs ``solara run`` with that guard in front of
Solara's app.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

SCENARIO_ENV = "ABM_VIZ_SCENARIO"
APP = Path(__file__).resolve().with_name("app.py")


# Debian's Chromium, as the browser test and the viewer benchmark drive it (headless,
# offline: no sandbox as root, no background network or updates).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def viewer_command(host: str = "127.0.0.1", port: int = 8765) -> list[str]:
    """The command line serving the viewer: ``solara run`` behind the Host guard."""
    return [
        sys.executable,
        "-m",
        "abm.viz.server",
        "run",
        str(APP),
        "--production",
        "--no-open",
        "--no-check-version",
        "--host",
        host,
        "--port",
        str(port),
    ]


def viewer_env(scenario: str | Path | None = None) -> dict[str, str]:
    """The environment for the server: the scenario, one BLAS thread, no telemetry."""
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = env.get("OPENBLAS_NUM_THREADS", "1")
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    if scenario is not None:
        env[SCENARIO_ENV] = str(Path(scenario).resolve())
    return env


@contextmanager
def running_viewer(
    scenario: str | Path, cwd: Path, output: IO | int = subprocess.DEVNULL, timeout: float = 90
) -> Iterator[str]:
    """A viewer server on a free local port: its URL once it answers; stopped afterwards.

    For the browser test and the viewer benchmark. ``output`` takes the server's output.

    Raises:
        RuntimeError: The server exited, or did not answer within ``timeout`` seconds.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        viewer_command("127.0.0.1", port), env=viewer_env(scenario), cwd=cwd,
        stdout=output, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while not _answers(url):
            if server.poll() is not None:
                raise RuntimeError("viewer server exited before answering")
            if time.monotonic() > deadline:
                raise RuntimeError(f"viewer server did not answer at {url}")
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def address(host: str, port: int) -> str:
    """The URL the viewer is served at."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


LOOPBACK_NAMES = ("localhost",)
DEFAULT_PORT = {"http": 80, "https": 443}


def allowed_hosts(host: str, port: int) -> Callable[[str], bool]:
    """A test of ``Host`` header values for a server bound to ``host:port``.

    A value without a port means port 80, as a browser sends it.
    """
    bound = host.strip("[]").lower()
    try:
        ip = ipaddress.ip_address(bound)
    except ValueError:
        ip = None
    names = {bound}
    if ip is not None and ip.is_loopback:
        names |= set(LOOPBACK_NAMES)
    wildcard = ip is not None and ip.is_unspecified

    def ok(value: str, scheme: str = "http") -> bool:
        name, got_port = _split_host(value)
        if got_port is None:
            got_port = DEFAULT_PORT.get(scheme)
        if name is None or got_port != port:
            return False
        if name in names:
            return True
        if wildcard:  # bound to all interfaces: only addresses, never a (rebindable) name
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return False
            return True
        return False

    return ok


def allowed_origins(host: str, port: int) -> Callable[[str], bool]:
    """A test of ``Origin`` header values: the viewer's own page, ``http://HOST:PORT``.

    ``null`` (a sandboxed frame, a ``data:`` page, a file) and any other scheme, name
    or port are refused.
    """
    host_ok = allowed_hosts(host, port)

    def ok(value: str) -> bool:
        try:
            parts = urlsplit(value.strip())
        except ValueError:
            return False
        if parts.scheme != "http" or parts.path not in ("", "/") or parts.query:
            return False
        return host_ok(parts.netloc, "http")

    return ok


def _split_host(value: str) -> tuple[str | None, int | None]:
    try:
        parts = urlsplit(f"//{value.strip()}")
        if parts.username is not None or parts.password is not None:
            return None, None
        return (parts.hostname or None), parts.port
    except ValueError:
        return None, None


# Sent with every HTTP answer: no other site may frame the page (clickjacking), and
# no browser guesses a content type.
SECURITY_HEADERS = [
    (b"content-security-policy", b"frame-ancestors 'self'"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-content-type-options", b"nosniff"),
]


class HostGuard:
    """ASGI middleware: 403 unless ``Host`` (and ``Origin``, when sent) is the viewer's own."""

    def __init__(self, app: Any, host: str, port: int):
        self.app = app
        self.host_ok = allowed_hosts(host, port)
        self.origin_ok = allowed_origins(host, port)

    def allows(self, headers: dict[str, str]) -> bool:
        """Whether a request with these (lower-case) headers comes from the viewer's page."""
        if not self.host_ok(headers.get("host", "")):
            return False
        origin = headers.get("origin")
        # No Origin: not a browser page (a browser sends one with every websocket).
        return origin is None or self.origin_ok(origin)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:  # noqa: D102
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            name = k.decode("latin-1").lower()
            if name in headers and name in ("host", "origin"):
                headers[name] = ""  # two of them: ambiguous, refused
            else:
                headers[name] = v.decode("latin-1")
        if not self.allows(headers):
            await _refuse(scope, receive, send)
            return
        if scope["type"] == "http":
            send = _with_headers(send)
        await self.app(scope, receive, send)


def _with_headers(send: Callable) -> Callable:
    async def send_with_headers(message: dict) -> None:
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return send_with_headers


async def _refuse(scope: dict, receive: Callable, send: Callable) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008})
        return
    body = (
        b"abm viz: refused: this server answers only its own page"
        b" (the Host or Origin header names another address)\n"
    )
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _guarded_solara(argv: list[str]) -> None:
    """Run ``solara`` with ``argv``, its app wrapped in :class:`HostGuard`."""
    import uvicorn
    from solara import __main__ as solara_main

    host = argv[argv.index("--host") + 1] if "--host" in argv else "127.0.0.1"
    port = int(argv[argv.index("--port") + 1]) if "--port" in argv else 8765

    class GuardedConfig(uvicorn.Config):
        def load(self) -> None:
            super().load()
            self.loaded_app = HostGuard(self.loaded_app, host, port)

    solara_main.uvicorn.Config = GuardedConfig  # solara builds its server with this name
    # Solara warns, in ten lines, on every page served over plain http to a name other
    # than "localhost" that it falls back to a SameSite=Lax session cookie. Lax is what
    # a local viewer wants (the cookie is never sent with another site's requests), so
    # the warning says nothing the user must act on.
    warnings.filterwarnings(
        "ignore", message="Cookies with samesite=none require https", category=UserWarning
    )
    sys.argv = ["solara", *argv]
    solara_main.main()


if __name__ == "__main__":
    _guarded_solara(sys.argv[1:])
