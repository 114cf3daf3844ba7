"""The `rehost` command: the full CLI, or one clear line when only `rehost[agent]` is installed."""

from __future__ import annotations

import sys

SERVER_MODULES = frozenset({"click", "httpx", "fastapi", "uvicorn", "sqlalchemy", "alembic",
                            "pydantic", "cryptography", "jinja2", "psycopg", "prometheus_client",
                            "multipart", "starlette"})
MISSING = ("rehost: the server and CLI need their dependencies: pip install 'rehost[server]' "
           "(the agent alone is the rehost-agent command) / rehost 服务端和命令行缺少依赖："
           "请执行 pip install 'rehost[server]'（仅代理请使用 rehost-agent 命令）\n")


def main() -> None:
    """Run rehost.cli.main, or exit 2 naming the extra to install."""
    try:
        from rehost.cli.main import main as cli_main
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in SERVER_MODULES:
            raise
        sys.stderr.write(MISSING)
        sys.exit(2)
    cli_main()
