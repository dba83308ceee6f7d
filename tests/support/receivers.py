"""Real protocol peers for tests: an SMTP server (aiosmtpd), a Slack-like HTTP receiver and a
PagerDuty Events API v2 receiver."""

import email
import email.message
import email.policy
import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the SMTP receiver -----------------------------------------------------------------------


class MailHandler:
    """aiosmtpd handler recording received messages; ``rcpt_reply`` forces an RCPT answer."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.rcpt_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted"


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.handler = MailHandler()
        self._controller: Controller | None = None

    def start(self, **smtp_kwargs) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **smtp_kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


# -- the Slack receiver ----------------------------------------------------------------------


class SlackServer:
    """Loopback HTTP server: records POSTed JSON; answers from ``script`` then 200 ``ok``.

    A script entry is ``(status, headers, body)``, ``("hang", seconds)`` or ``("reset",)``: read
    and record the body, then reset the connection without answering (RST).
    """

    def __init__(self, token: str = "T0001/B0001/hooktoken") -> None:
        self.posts: list[dict] = []
        self.paths: list[str] = []
        self.script: list[tuple] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    step = outer.script.pop(0) if outer.script else (200, {}, b"ok")
                    outer.posts.append(json.loads(body))
                    outer.paths.append(self.path)
                if step[0] == "reset":
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                if step[0] == "hang":
                    time.sleep(step[1])
                    step = (200, {}, b"ok")
                status, headers, payload = step
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/services/{token}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- the PagerDuty Events API v2 receiver ----------------------------------------------------


PAGERDUTY_ACTIONS = ("trigger", "acknowledge", "resolve")
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")


def pagerduty_violations(event: object, routing_key: str) -> list[str]:
    """What makes ``event`` an invalid Events API v2 event (empty when it is valid)."""
    if not isinstance(event, dict):
        return ["the body is not a JSON object"]
    problems = []
    if event.get("routing_key") != routing_key:
        problems.append("routing_key is not the integration's key")
    action = event.get("event_action")
    if action not in PAGERDUTY_ACTIONS:
        problems.append(f"event_action {action!r} is not one of {PAGERDUTY_ACTIONS}")
    key = event.get("dedup_key")
    if not isinstance(key, str) or not key or len(key) > 255:
        problems.append("dedup_key must be a string of 1..255 characters")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*problems, "a trigger needs a payload object"]
        for field in ("summary", "source", "severity"):
            if not isinstance(payload.get(field), str) or not payload[field]:
                problems.append(f"payload.{field} is required")
        if len(payload.get("summary") or "") > 1024:
            problems.append("payload.summary is longer than 1024 characters")
        if payload.get("severity") not in PAGERDUTY_SEVERITIES:
            problems.append(f"payload.severity {payload.get('severity')!r} is not one of "
                            f"{PAGERDUTY_SEVERITIES}")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            problems.append("payload.custom_details must be an object")
    return problems


class PagerDutyServer:
    """Loopback Events API v2 receiver: checks each POSTed event like PagerDuty does.

    A valid event is recorded in ``events`` and answered 202 ``{"status": "success", ...}``;
    an invalid one is recorded in ``invalid`` with its violations and answered 400
    ``{"status": "invalid event", "errors": [...]}``. ``script`` entries ``(status, headers,
    body)`` answer the next posts first (the event is still recorded in ``posts``).
    """

    def __init__(self, routing_key: str) -> None:
        self.routing_key = routing_key
        self.posts: list[dict] = []
        self.events: list[dict] = []
        self.invalid: list[tuple[dict, list[str]]] = []
        self.script: list[tuple] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    event = json.loads(raw)
                except ValueError:
                    event = None
                with outer.lock:
                    outer.posts.append(event)
                    if outer.script:
                        status, headers, payload = outer.script.pop(0)
                    else:
                        problems = pagerduty_violations(event, outer.routing_key)
                        if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                            problems.append("Content-Type must be application/json")
                        headers = {"Content-Type": "application/json"}
                        if problems:
                            outer.invalid.append((event, problems))
                            status, payload = 400, json.dumps({
                                "status": "invalid event", "message": "Event object is invalid",
                                "errors": problems}).encode()
                        else:
                            outer.events.append(event)
                            status, payload = 202, json.dumps({
                                "status": "success", "message": "Event processed",
                                "dedup_key": event["dedup_key"]}).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v2/enqueue"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
