"""Who may scrape /metrics: a bearer `metrics_token` when set, else loopback clients only."""

from __future__ import annotations

import hmac
import ipaddress

from rehost.domain import errors


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def check_scraper(*, token: str, client_host: str, authorization: str) -> None:
    """Raise Unauthenticated/Forbidden unless this request may read the metrics."""
    if token:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 token.encode()):
            raise errors.Unauthenticated(
                "InvalidMetricsToken", "/metrics needs the header `Authorization: Bearer "
                "<metrics_token>` (the server's metrics_token / REHOST_METRICS_TOKEN).",
                "/metrics 需要请求头 `Authorization: Bearer <metrics_token>`（即服务器的 "
                "metrics_token / REHOST_METRICS_TOKEN）。")
        return
    if not _is_loopback(client_host):
        raise errors.Forbidden(
            "Forbidden.MetricsNotLoopback", f"/metrics answers only loopback clients while no "
            f"metrics_token is set (this request came from {client_host or 'an unknown peer'}); "
            "set metrics_token in server.toml (or REHOST_METRICS_TOKEN) and scrape with that "
            "bearer token.",
            f"未设置 metrics_token 时 /metrics 只响应本机回环地址的请求（本次来自 "
            f"{client_host or '未知地址'}）；请在 server.toml 中设置 metrics_token（或 "
            "REHOST_METRICS_TOKEN），并用该 Bearer 令牌抓取。")
