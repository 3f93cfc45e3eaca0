"""HTTPS front end: TLS, one listener thread per cluster, auth, dispatch, PVE's envelope.

Request pipeline (each step answers the way pveproxy does):
1. ``/_sim/...`` goes to the control API (:mod:`pvesim.control`), guarded by its key.
2. Body limits (512 KiB, no body on GET/DELETE: 501), route lookup (unknown: 501).
3. Authentication (:mod:`pvesim.auth`) unless the method is world-callable: ticket cookie
   (plus CSRF header for writes) or ``PVEAPIToken``; failures are 401s with an empty body
   after ``auth_delay``.
4. Chaos (latency, injected errors), parameter validation (400 with per-parameter errors).
5. The handler runs under the cluster lock after due task steps are applied; its return
   value becomes ``{"data": ...}``.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import tempfile
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pvesim.api.context import Context
from pvesim.api.errors import ApiError
from pvesim.api.router import Router, default_router
from pvesim.auth import authenticate
from pvesim.bodies import GzipCache, encode, encode_payload
from pvesim.cluster import Cluster
from pvesim.model.errors import ModelError
from pvesim.peers import Peer, peer_add, peer_remove
from pvesim.spec.formats import PVE_MAJOR
from pvesim.spec.types import ParamError
from pvesim.tls import Certificate, make_certificate

log = logging.getLogger(__name__)

API_PREFIX = "/api2/json"
EXTJS_PREFIX = "/api2/extjs"  # same data plus ``success``; handler errors answer HTTP 200
CONTROL_PREFIX = "/_sim/"
MAX_BODY = 512 * 1024
GZIP_MIN = 1024
DRAIN_LIMIT = 8 * 1024 * 1024
RESPONSE_HOOKS: list[Any] = []
"""Callables ``hook(spec, data)`` seeing every successful API answer (conformance tests)."""


# ---- request handling ----------------------------------------------------------------------


class SimHTTPServer(ThreadingHTTPServer):
    """One TLS listener serving one cluster."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], cluster: Cluster, tls: ssl.SSLContext, router: Router
    ) -> None:
        super().__init__(address, RequestHandler)
        self.cluster = cluster
        self.tls = tls
        self.router = router
        self.gzip_cache = GzipCache()

    def get_request(self) -> tuple[socket.socket, Any]:
        # The TLS handshake runs in the connection's own thread (see RequestHandler.setup),
        # so a slow or broken client cannot stall the accept loop.
        sock, addr = self.socket.accept()
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)


class RequestHandler(BaseHTTPRequestHandler):
    """Speaks HTTP/1.1 keep-alive; every answer has Content-Length."""

    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # malformed request lines still get a status line
    timeout = 60
    # Buffered writes: headers and body leave in one TLS record (flushed by
    # handle_one_request); separate small writes meet delayed ACKs and cost ~40 ms each.
    wbufsize = 256 * 1024
    server: SimHTTPServer

    def setup(self) -> None:
        self.request.settimeout(10)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.request.do_handshake()
        except (OSError, ssl.SSLError):
            self.close_connection = True
            raise
        super().setup()

    def handle(self) -> None:
        try:
            super().handle()
        except (OSError, ssl.SSLError):
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, headers): status + reason, empty body."""
        self.close_connection = True
        reason = message or self.responses.get(code, ("error",))[0]
        self._send(code, reason, b"", "application/json;charset=UTF-8")

    def version_string(self) -> str:
        return "pve-api-daemon/3.0"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # ---- pipeline ----------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        started = time.monotonic()
        cluster = self.server.cluster
        self.caller: str | None = None
        try:
            body = self._read_body(method)
            split = urlsplit(self.path)
            if split.path.startswith(CONTROL_PREFIX):
                from pvesim.control import handle_control

                status, payload = handle_control(
                    cluster, method, split.path[len(CONTROL_PREFIX) :], body, self.headers
                )
                self._send_json(status, "OK" if status == 200 else "Error", payload)
                return
            prefix = API_PREFIX
            if split.path.startswith(EXTJS_PREFIX + "/"):
                prefix = EXTJS_PREFIX
            elif not split.path.startswith(API_PREFIX + "/") and split.path != API_PREFIX:
                raise ApiError(501, f"Method '{method} {split.path}' not implemented")
            api_path = split.path[len(prefix) :] or "/"
            try:
                data, total = self._dispatch(cluster, method, api_path, split.query, body)
            except ApiError as exc:
                if prefix != EXTJS_PREFIX or exc.empty_body:
                    raise
                error: dict[str, Any] = {"data": None, "success": 0, "message": exc.message}
                if exc.errors:
                    error["errors"] = exc.errors
                self._send_json(200, "OK", error)
                return
            payload: dict[str, Any] = {"data": data}
            if total is not None:
                payload["total"] = total
            if prefix == EXTJS_PREFIX:
                payload["success"] = 1
            from pvesim.control import corrupt_answer

            spoiled = corrupt_answer(cluster, api_path, payload)
            if spoiled is not None:
                self._send(200, "OK", spoiled, "application/json;charset=UTF-8")
                return
            self._send_json(200, "OK", payload)
        except ApiError as exc:
            self._send_error(cluster, exc, started)
        except Exception as exc:  # a bug in a handler must still look like PVE's die()
            log.exception("unhandled error for %s %s", method, self.path)
            self._send_error(cluster, ApiError(500, str(exc) or type(exc).__name__), started)

    def _read_body(self, method: str) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise ApiError(501, "chunked transfer encoding not supported")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "invalid Content-Length") from None
        if length < 0:
            self.close_connection = True
            raise ApiError(400, "invalid Content-Length")
        if length > MAX_BODY:
            self.close_connection = True  # the unread body would poison keep-alive
            if length <= DRAIN_LIMIT:
                # Read it anyway so the client sees our answer rather than a reset.
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 65536))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            raise ApiError(501, "for data too large")
        body = self.rfile.read(length) if length else b""
        if body and method in ("GET", "DELETE"):
            raise ApiError(501, f"Unexpected content for method '{method}'")
        return body

    def _dispatch(
        self, cluster: Cluster, method: str, api_path: str, query: str, body: bytes
    ) -> tuple[Any, int | None]:
        route, variables = self.server.router.resolve(method, api_path)
        spec = route.spec
        now = cluster.now()
        identity = None
        if not spec.world:
            with cluster.lock:
                identity = authenticate(
                    cluster, self.headers, method, spec, API_PREFIX + api_path, now
                )
            self.caller = identity.full
        chaos = cluster.chaos
        if chaos.latency and api_path.startswith(chaos.latency_prefix or "/"):
            time.sleep(chaos.latency)
        if chaos.error_status and chaos.error_count and api_path.startswith(chaos.error_prefix):
            with cluster.lock:
                if chaos.error_count > 0:
                    chaos.error_count -= 1
            raise ApiError(chaos.error_status, chaos.error_message or "injected error")
        raw = self._raw_params(query, body)
        for name, value in variables.items():
            if name in raw and str(raw[name]) != value:
                raise ApiError(
                    400,
                    "Parameter verification failed.",
                    {name: "duplicate parameter (already defined in URI) with conflicting values!"},
                )
            raw[name] = value
        release = PVE_MAJOR.set(cluster.profile.major)
        try:
            params = spec.validate(raw)
        except ParamError as exc:
            raise ApiError(400, "Parameter verification failed.", exc.errors) from None
        finally:
            PVE_MAJOR.reset(release)
        with cluster.lock:
            now = cluster.tick()
            ctx = Context(
                cluster=cluster,
                spec=spec,
                params=params,
                identity=identity,
                path=API_PREFIX + api_path,
                now=now,
            )
            try:
                data = route.handler(ctx)
            except ModelError as exc:
                raise ApiError(exc.status, exc.message, exc.errors) from None
        # Hooks judge the answer by its cluster's release (privilege names differ on 8 and 9).
        release = PVE_MAJOR.set(cluster.profile.major)
        try:
            for hook in RESPONSE_HOOKS:
                hook(spec, data)
        finally:
            PVE_MAJOR.reset(release)
        return data, ctx.total

    def _raw_params(self, query: str, body: bytes) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            raw.setdefault(key, value)
        if not body:
            return raw
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type == "application/json":
            try:
                decoded = json.loads(body)
            except ValueError:
                raise ApiError(400, "malformed JSON body") from None
            if not isinstance(decoded, dict):
                raise ApiError(400, "malformed JSON body - expected an object")
            raw.update(decoded)
            return raw
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "malformed request body (not UTF-8)") from None
        for key, value in parse_qsl(text, keep_blank_values=True):
            raw.setdefault(key, value)
        return raw

    # ---- responses ---------------------------------------------------------------------

    def _send_error(self, cluster: Cluster, exc: ApiError, started: float) -> None:
        if exc.delay and cluster.chaos.auth_delay:
            time.sleep(max(0.0, cluster.chaos.auth_delay - (time.monotonic() - started)))
        reason = exc.message.strip().splitlines()[0] if exc.message.strip() else "error"
        if exc.empty_body:
            self._send(exc.status, reason, b"", "application/json;charset=UTF-8")
            return
        payload: dict[str, Any] = {"data": None}
        if cluster.profile.error_message_key:
            payload["message"] = exc.message if exc.message.endswith("\n") else exc.message + "\n"
        if exc.errors:
            payload["errors"] = exc.errors
        self._send_json(exc.status, reason, payload)

    def _send_json(self, status: int, reason: str, payload: Any) -> None:
        body = encode_payload(payload) if isinstance(payload, dict) else encode(payload)
        self._send(status, reason, body, "application/json;charset=UTF-8")

    def _send(self, status: int, reason: str, body: bytes, content_type: str) -> None:
        encoding = None
        headers = getattr(self, "headers", None)
        accept = (headers.get("Accept-Encoding") if headers is not None else None) or ""
        if len(body) > GZIP_MIN and "gzip" in accept:
            # Keyed by what the caller asked and who asked; a hit needs the same bytes.
            key = (self.command, self.path, getattr(self, "caller", None))
            body = self.server.gzip_cache.compress(key, body)
            encoding = "gzip"
        # The reason phrase carries PVE's message; it must be one latin-1 line.
        safe_reason = reason.encode("latin-1", "replace").decode("latin-1")
        self.send_response(status, safe_reason)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=0")
        self.send_header("Pragma", "no-cache")
        self.send_header("Expires", formatdate(usegmt=True))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


# ---- listeners -----------------------------------------------------------------------------


class ClusterServer:
    """A cluster served on one port; ``start`` runs the listener in a daemon thread."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        certificate: Certificate,
        host: str = "127.0.0.1",
        port: int = 0,
        router: Router | None = None,
    ) -> None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(certificate.cert_file, certificate.key_file)
        self.cluster = cluster
        self.certificate = certificate
        self.httpd = SimHTTPServer((host, port), cluster, tls, router or default_router())
        self.host = host
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}{API_PREFIX}"

    def start(self) -> ClusterServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"pvesim-{self.cluster.name}",
            daemon=True,
        )
        self._thread.start()
        peer_add(Peer(self.cluster, self.host, self.port, self.certificate.fingerprint))
        return self

    def stop(self) -> None:
        peer_remove(self.port)
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def default_certificate() -> Certificate:
    """A fresh self-signed certificate in a private temporary directory."""
    return make_certificate(Path(tempfile.mkdtemp(prefix="pvesim-tls-")))
