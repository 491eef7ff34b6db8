"""Real notification receivers on loopback for the notification tests: an SMTP server
(aiosmtpd) that keeps every e-mail, and an HTTP server that keeps every JSON webhook body.

    with SmtpReceiver() as smtp, WebhookReceiver() as hook:
        url = hook.url  # json://127.0.0.1:PORT/hook
        ...
        assert hook.bodies[0]["title"] == ...
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpReceiver:
    """An SMTP server on 127.0.0.1 that accepts every message and keeps it."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.port = free_port()
        self.logins: list[str] = []
        self.controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
        )

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (auth_data.login, auth_data.password) == (b"monitor", b"secret-pass")
        self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"

    def url(self, to: str = "desk@example.org") -> str:
        """An Apprise mailto:// URL that delivers to this server without TLS."""
        return (
            f"mailto://monitor:secret-pass@127.0.0.1:{self.port}"
            f"?smtp=127.0.0.1&from=monitor@example.org&to={to}&mode=insecure"
        )

    def texts(self) -> list[str]:
        """Subject and plain-text body of every message received."""
        out = []
        for m in self.messages:
            part = m.get_body(preferencelist=("plain", "html"))
            out.append(f"Subject: {m['Subject']}\n\n{part.get_content() if part else ''}")
        return out

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that keeps every JSON body POSTed to it.

    `stall_on`: the number (1-based) of the request whose answer is held back for `stall`
    seconds, to kill a sender mid-delivery; `fail_with`: answer every request with this status.
    """

    def __init__(self, stall_on: int | None = None, stall: float = 30.0) -> None:
        self.bodies: list[dict] = []
        self.stall_on = stall_on
        self.stall = stall
        self.fail_with: int | None = None
        self.received = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                receiver.bodies.append(body)
                receiver.received.set()
                if receiver.stall_on == len(receiver.bodies):
                    time.sleep(receiver.stall)
                status = receiver.fail_with or 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def wait_for(self, count: int, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.bodies) >= count:
                return True
            time.sleep(0.05)
        return False

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
