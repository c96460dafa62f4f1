"""Starting the viewer's web server: ``solara run`` of :mod:`abm.viz.app`, offline.

The assumption: the viewer is a local tool. The server listens on 127.0.0.1 unless told
otherwise, runs in Solara's production mode (no file watcher, which also avoids the
inotify limit), and makes no network calls of its own: the version check and the
usage telemetry Solara does by default are switched off. The scenario reaches the
app through the ``ABM_VIZ_SCENARIO`` environment variable.

A loopback server is still reachable from any web page the user opens, through DNS
rebinding (a hostile name that resolves to 127.0.0.1): the browser then sends that
name as ``Host``. So the server answers only requests whose ``Host`` is the address it
bound (or ``localhost`` when it bound a loopback address; any IP literal when it bound
all interfaces), and websockets only from a page served by an allowed host (``Origin``).
Everything else gets 403 before Solara sees it. ``python -m abm.viz.server`` runs
``solara run`` with that guard in front of Solara's app.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import time
import urllib.request
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


def allowed_hosts(host: str, port: int) -> Callable[[str], bool]:
    """A test of ``Host`` header values for a server bound to ``host:port``."""
    bound = host.strip("[]").lower()
    try:
        ip = ipaddress.ip_address(bound)
    except ValueError:
        ip = None
    names = {bound}
    if ip is not None and ip.is_loopback:
        names |= set(LOOPBACK_NAMES)
    wildcard = ip is not None and ip.is_unspecified

    def ok(value: str) -> bool:
        name, got_port = _split_host(value)
        if name is None or got_port not in (None, port):
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


def _split_host(value: str) -> tuple[str | None, int | None]:
    try:
        parts = urlsplit(f"//{value.strip()}")
        return (parts.hostname or None), parts.port
    except ValueError:
        return None, None


class HostGuard:
    """ASGI middleware: 403 for a ``Host`` (or websocket ``Origin``) the server did not bind."""

    def __init__(self, app: Any, host: str, port: int):
        self.app = app
        self.ok = allowed_hosts(host, port)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:  # noqa: D102
        if scope["type"] in ("http", "websocket"):
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            allowed = self.ok(headers.get("host", ""))
            origin = headers.get("origin")
            if allowed and scope["type"] == "websocket" and origin and origin != "null":
                allowed = self.ok(urlsplit(origin).netloc)
            if not allowed:
                await _refuse(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _refuse(scope: dict, receive: Callable, send: Callable) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008})
        return
    body = b"abm viz: refused: the Host header is not the address this server bound\n"
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
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
    sys.argv = ["solara", *argv]
    solara_main.main()


if __name__ == "__main__":
    _guarded_solara(sys.argv[1:])
