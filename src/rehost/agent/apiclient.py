"""The agent's REST calls over `urllib.request` + `ssl` (stdlib only, Python 3.6+).

The portable agent cannot bring httpx: this client speaks the same four calls as
`rehost.client.AgentClient`, trusting the CA file given at import (or the system store).
"""

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Optional

from rehost.agent.tls import set_tls12_floor
from rehost.errorbody import error_fields
from rehost.protocol.work import WorkItem
from rehost.wire import WireError

API = "/api/v1"
Document = Dict[str, Any]


class AgentApiError(Exception):
    """A request the server refused (or that never reached it)."""

    def __init__(self, code: str, message: str, *, status: int = 0) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def api_context(ca_file: str = "") -> "ssl.SSLContext":
    """TLS 1.2+ context for the API: the import's CA file pinned, else the system store."""
    ctx = ssl.create_default_context(cafile=ca_file or None)
    set_tls12_floor(ctx)
    return ctx


class UrllibAgentClient:
    """Bearer-token agent calls: import, heartbeat, poll work, report an error."""

    def __init__(self, endpoint: str, *, token: str = "", ca_file: str = "",
                 timeout_s: float = 30.0) -> None:
        self.base = endpoint.rstrip("/") + API
        self.token, self.timeout_s = token, timeout_s
        self.context = api_context(ca_file) if endpoint.startswith("https:") else None

    def close(self) -> None:
        """Nothing to close: every call opens its own connection."""

    def import_source(self, *, code_id: str, code: str, inventory: Document,
                      name: Optional[str] = None) -> Document:
        """Register this machine; returns source_id, agent_token, server_ca_pem, heartbeat rate."""
        body = {"code_id": code_id, "code": code, "inventory": inventory}
        if name is not None:
            body["name"] = name
        return self.call("POST", "/agent/import", body)

    def heartbeat(self, *, inventory: Optional[Document] = None) -> Document:
        """Tell the server the agent is alive (optionally with a fresh inventory)."""
        return self.call("POST", "/agent/heartbeat",
                         {} if inventory is None else {"inventory": inventory})

    def poll_work(self, *, wait_s: float = 0.0, known: str = "") -> "WorkItem":
        """What to do now (none / replicate / pause / stop).

        wait_s > 0: a long poll; the server answers as soon as its answer's tag
        (rehost.protocol.etag of the work item's JSON) differs from `known`, at the latest
        after wait_s.
        """
        path = "/agent/work"
        if wait_s > 0:
            path += "?" + urllib.parse.urlencode({"wait": str(round(wait_s, 1)), "known": known})
        doc = self.call("GET", path)
        try:
            return WorkItem.from_json(doc)
        except WireError as exc:  # a server of another version: refuse, poll again later
            raise AgentApiError(exc.code, exc.message) from exc

    def report_error(self, *, job_id: str, code: str, message: str, hint: str = "",
                     hint_zh: str = "") -> Document:
        """Report a job failure seen by the agent."""
        body = {"job_id": job_id, "code": code, "message": message, "hint": hint}
        if hint_zh:  # older servers reject unknown fields; send it only when there is one
            body["hint_zh"] = hint_zh
        return self.call("POST", "/agent/error", body)

    def call(self, method: str, path: str, body: Optional[Document] = None) -> Document:
        """One request; the decoded JSON object, or AgentApiError."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s,
                                        context=self.context) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _refusal(exc) from exc
        except (OSError, ValueError) as exc:  # URLError, timeouts, TLS failures
            raise AgentApiError(
                "ConnectionFailed",
                f"Cannot reach the rehost server: {exc}. 无法连接 rehost 服务器：{exc}",
            ) from exc
        return _document(raw)


def _document(raw: bytes) -> Document:
    if not raw:
        return {}
    doc = json.loads(raw.decode("utf-8"))
    if not isinstance(doc, dict):
        raise AgentApiError("BadResponse", "the server answered a non-object / 服务器返回了非对象")
    return doc


def _refusal(exc: "urllib.error.HTTPError") -> AgentApiError:
    fields = error_fields(exc.read(), status=exc.code, reason=str(exc.reason))
    return AgentApiError(fields.code, fields.message, status=exc.code)
