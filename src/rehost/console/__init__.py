"""rehost.console: the server-rendered web console (zh-CN default, en)."""

from rehost.console.router import create_console_router

__all__ = ["create_console_router"]
