"""One typed HTTP client of the REST API `/api/v1` (CLI, agent, tests).

AccessKey calls use HTTP Basic (id:secret); agent calls use `Authorization: Bearer <agent token>`.
Every refused request raises `ClientError` with the API's code, message and request id.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from rehost.errorbody import error_fields
from rehost.protocol.work import WorkItem

API = "/api/v1"
Document = dict[str, Any]


class ClientError(Exception):
    """A request the server refused (or that never reached it)."""

    def __init__(self, code: str, message: str, *, request_id: str = "", status: int = 0):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id
        self.status = status


def _error_from(response: httpx.Response) -> ClientError:
    fields = error_fields(response.content, status=response.status_code,
                          reason=response.reason_phrase)
    return ClientError(fields.code, fields.message, status=response.status_code,
                       request_id=fields.request_id or response.headers.get("x-request-id", ""))


def trust(verify: str | bool) -> ssl.SSLContext | bool:
    """httpx's `verify`: a CA file path becomes an SSL context (str paths are deprecated)."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


class Transport:
    """The HTTP session: base URL, credentials, TLS trust, timeouts, error translation."""

    def __init__(self, endpoint: str, *, auth: httpx.Auth | None = None,
                 headers: Mapping[str, str] | None = None, verify: str | bool = True,
                 timeout_s: float = 30.0, http: httpx.Client | None = None) -> None:
        self._http = http or httpx.Client(
            base_url=endpoint.rstrip("/"), auth=auth, headers=dict(headers or {}),
            verify=trust(verify), timeout=timeout_s,
        )

    def call(self, method: str, path: str, *, json: Any = None,
             params: Mapping[str, Any] | None = None) -> Any:
        """Send one request; return the decoded JSON body (None for 204)."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, API + path, json=json, params=query)
        except httpx.HTTPError as exc:
            raise ClientError(
                "ConnectionFailed",
                f"Cannot reach the rehost server: {exc}. 无法连接 rehost 服务器：{exc}",
            ) from exc
        if response.status_code >= 400:
            raise _error_from(response)
        return response.json() if response.content else None

    def download(self, path: str, target: Path, *,
                 params: Mapping[str, Any] | None = None) -> int:
        """Stream a GET into `target`, resuming after its current size (HTTP Range)."""
        start = target.stat().st_size if target.exists() else 0
        headers = {"Range": f"bytes={start}-"} if start else {}
        query = {k: v for k, v in (params or {}).items() if v}
        try:
            with self._http.stream("GET", API + path, params=query, headers=headers) as reply:
                if reply.status_code == 416:  # already complete
                    return 0
                if reply.status_code >= 400:
                    reply.read()
                    raise _error_from(reply)
                mode = "ab" if reply.status_code == 206 else "wb"
                with target.open(mode) as handle:
                    for chunk in reply.iter_bytes(1 << 20):
                        handle.write(chunk)
                return int(reply.num_bytes_downloaded)
        except httpx.HTTPError as exc:
            raise ClientError(
                "ConnectionFailed",
                f"Cannot reach the rehost server: {exc}. 无法连接 rehost 服务器：{exc}",
            ) from exc

    def close(self) -> None:
        """Close the underlying connections."""
        self._http.close()


class RehostClient:
    """Typed calls of the REST API with an AccessKey (HTTP Basic)."""

    def __init__(self, endpoint: str, access_key_id: str, access_key_secret: str, *,
                 verify: str | bool = True, timeout_s: float = 30.0, language: str = "",
                 http: httpx.Client | None = None) -> None:
        # the API localises messages by Accept-Language; LANG=zh_CN… → Chinese
        headers = {"Accept-Language": "zh-CN" if language.lower().startswith("zh") else "en"}
        self.transport = Transport(endpoint, auth=httpx.BasicAuth(access_key_id,
                                                                  access_key_secret),
                                   headers=headers, verify=verify, timeout_s=timeout_s,
                                   http=http)

    def close(self) -> None:
        """Close the connections."""
        self.transport.close()

    def __enter__(self) -> RehostClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # activation codes
    def create_activation_code(self, *, count: int | None = None, ttl_days: int | None = None,
                               name: str | None = None) -> Document:
        """Create an activation code; the response holds the secret `code` once."""
        body = {"count": count, "ttl_days": ttl_days, "name": name}
        return self._call("POST", "/activation-codes", json=_present(body))

    def list_activation_codes(self, **filters: Any) -> Document:
        """Activation codes with their state and registered count."""
        return self._call("GET", "/activation-codes", params=filters)

    def disable_activation_code(self, code_id: str) -> Document:
        """Disable an activation code."""
        return self._call("POST", f"/activation-codes/{code_id}/disable")

    # sources
    def list_sources(self, **filters: Any) -> Document:
        """Sources (filters: state, name, source_ids, page_number, page_size)."""
        return self._call("GET", "/sources", params=filters)

    def get_source(self, source_id: str) -> Document:
        """One source."""
        return self._call("GET", f"/sources/{source_id}")

    def modify_source(self, source_id: str, *, name: str | None = None,
                      description: str | None = None) -> Document:
        """Change a source's name/description."""
        body = _present({"name": name, "description": description})
        return self._call("PATCH", f"/sources/{source_id}", json=body)

    def delete_source(self, source_id: str, *, force: bool = False) -> Document:
        """Delete a source (force: even with an unfinished job)."""
        return self._call("DELETE", f"/sources/{source_id}", params={"force": force or None})

    # regions
    def list_regions(self) -> Document:
        """Regions with quotas and limits."""
        return self._call("GET", "/regions")

    def get_region(self, region_id: str) -> Document:
        """One region with its settings."""
        return self._call("GET", f"/regions/{region_id}")

    def create_region(self, body: Document) -> Document:
        """Create a region (region_id, name, image_store_path, network_quota, …)."""
        return self._call("POST", "/regions", json=_present(body))

    # jobs
    def create_job(self, body: Document) -> Document:
        """Create a migration job (fields as the REST schema)."""
        return self._call("POST", "/jobs", json=_present(body))

    def list_jobs(self, **filters: Any) -> Document:
        """Jobs (filters: status, region_id, source_id, name, page_number, page_size)."""
        return self._call("GET", "/jobs", params=filters)

    def get_job(self, job_id: str) -> Document:
        """One job with progress."""
        return self._call("GET", f"/jobs/{job_id}")

    def modify_job(self, job_id: str, body: Document, *,
                   clear: tuple[str, ...] = ()) -> Document:
        """Change a job's fields (`clear`: fields sent as null, e.g. back to the region's)."""
        return self._call("PATCH", f"/jobs/{job_id}",
                          json={**_present(body), **dict.fromkeys(clear)})

    def delete_job(self, job_id: str) -> Document:
        """Delete a job."""
        return self._call("DELETE", f"/jobs/{job_id}")

    def start_job(self, job_id: str) -> Document:
        """Start (or retry) one job."""
        return self._call("POST", f"/jobs/{job_id}/start")

    def start_jobs(self, job_ids: list[str]) -> Document:
        """Start up to 10 jobs; each result says started or why not."""
        return self._call("POST", "/jobs/start", json={"job_ids": job_ids})

    def pause_job(self, job_id: str) -> Document:
        """Pause a Running/Syncing job."""
        return self._call("POST", f"/jobs/{job_id}/pause")

    def cut_over_job(self, job_id: str, *, sync_data: bool = True) -> Document:
        """End a Waiting incremental job (sync_data: one last delta cycle first)."""
        return self._call("POST", f"/jobs/{job_id}/cutover", json={"sync_data": sync_data})

    def tag_resources(self, resource_type: str, resource_ids: list[str],
                      tags: dict[str, str]) -> Document:
        """Add (or overwrite) tags on jobs or sources."""
        return self._call("POST", "/tags", json={
            "resource_type": resource_type, "resource_ids": resource_ids,
            "tags": [{"key": k, "value": v} for k, v in tags.items()]})

    def untag_resources(self, resource_type: str, resource_ids: list[str], *,
                        keys: list[str], all_tags: bool = False) -> Document:
        """Remove tag keys (or every tag) from jobs or sources."""
        return self._call("POST", "/tags/untag", json={
            "resource_type": resource_type, "resource_ids": resource_ids, "keys": keys,
            "all": all_tags})

    def list_tags(self, resource_type: str, *, resource_ids: list[str] | None = None,
                  tags: list[str] | None = None, offset: int = 0) -> Document:
        """Tags of jobs or sources (`tags`: key or key=value filters)."""
        params: dict[str, str | int | list[str]] = {"resource_type": resource_type,
                                                    "offset": offset}
        if resource_ids:
            params["resource_id"] = resource_ids
        if tags:
            params["tag"] = tags
        return self._call("GET", "/tags", params=params)

    def job_events(self, job_id: str, *, after_id: int = 0) -> Document:
        """The job's event log after `after_id`."""
        return self._call("GET", f"/jobs/{job_id}/events", params={"after_id": after_id})

    # images
    def list_images(self, **filters: Any) -> Document:
        """Images (filters: region_id, name, page_number, page_size)."""
        return self._call("GET", "/images", params=filters)

    def get_image(self, image_id: str) -> Document:
        """One image with its manifest."""
        return self._call("GET", f"/images/{image_id}")

    def delete_image(self, image_id: str) -> Document:
        """Delete an image and its files."""
        return self._call("DELETE", f"/images/{image_id}")

    def confirm_credentials(self) -> Document:
        """Tell the server the AccessKey is saved (it deletes admin-credentials.json)."""
        return self._call("POST", "/credentials/confirm")

    # transit hosts
    def create_host_code(self, *, region_id: str, host_name: str,
                         ttl_hours: int | None = None) -> Document:
        """A one-use transit host registration code (the secret is in the answer once)."""
        return self._call("POST", "/transit-host-codes", json=_present({
            "region_id": region_id, "host_name": host_name, "ttl_hours": ttl_hours}))

    def list_host_codes(self) -> Document:
        """The account's transit host registration codes."""
        return self._call("GET", "/transit-host-codes")

    def revoke_transit_host(self, host_id: str) -> Document:
        """Refuse a transit host's token from now on."""
        return self._call("POST", f"/transit-hosts/{host_id}/revoke")

    def list_transit_hosts(self, *, region_id: str | None = None) -> Document:
        """Transit hosts with state (Online/Offline) and active transits."""
        return self._call("GET", "/transit-hosts", params={"region_id": region_id})

    def delete_transit_host(self, host_id: str) -> Document:
        """Forget a transit host."""
        return self._call("DELETE", f"/transit-hosts/{host_id}")

    def _call(self, method: str, path: str, **kwargs: Any) -> Document:
        result = self.transport.call(method, path, **kwargs)
        return dict(result) if isinstance(result, dict) else {}


class AgentClient:
    """The agent's calls: import with an activation code, then Bearer-token calls."""

    def __init__(self, endpoint: str, *, token: str = "", verify: str | bool = True,
                 timeout_s: float = 30.0, http: httpx.Client | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.transport = Transport(endpoint, headers=headers, verify=verify,
                                   timeout_s=timeout_s, http=http)

    def close(self) -> None:
        """Close the connections."""
        self.transport.close()

    def import_source(self, *, code_id: str, code: str, inventory: Document,
                      name: str | None = None) -> Document:
        """Register this machine; returns source_id, agent_token, server_ca_pem, heartbeat rate."""
        body = _present({"code_id": code_id, "code": code, "inventory": inventory,
                         "name": name})
        return dict(self.transport.call("POST", "/agent/import", json=body))

    def heartbeat(self, *, inventory: Document | None = None) -> Document:
        """Tell the server the agent is alive (optionally with a fresh inventory)."""
        return dict(self.transport.call("POST", "/agent/heartbeat",
                                        json=_present({"inventory": inventory})))

    def poll_work(self) -> WorkItem:
        """What to do now (none / replicate / pause / stop)."""
        return WorkItem.from_json(dict(self.transport.call("GET", "/agent/work")))

    def report_error(self, *, job_id: str, code: str, message: str, hint: str = "",
                     hint_zh: str = "") -> Document:
        """Report a job failure seen by the agent."""
        body = {"job_id": job_id, "code": code, "message": message, "hint": hint}
        if hint_zh:  # older servers reject unknown fields; send it only when there is one
            body["hint_zh"] = hint_zh
        return dict(self.transport.call("POST", "/agent/error", json=body))


def register_transit_host(endpoint: str, *, code: str, region_id: str, name: str,
                          data_endpoint: str, verify: str | bool = True,
                          http: httpx.Client | None = None) -> Document:
    """Register a `rehost transit` host with its code: token, certificate, key and CA (once)."""
    transport = Transport(endpoint, verify=verify, http=http)
    try:
        return dict(transport.call("POST", "/transit-hosts", json={
            "registration_code": code, "region_id": region_id, "name": name,
            "data_endpoint": data_endpoint}))
    finally:
        if http is None:  # a caller's client stays open
            transport.close()


def _present(body: Document) -> Document:
    return {k: v for k, v in body.items() if v is not None}
