"""How commands print: one JSON document with `--output json`, aligned tables for humans."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

import click

from rehost.client import ClientError

F = TypeVar("F", bound=Callable[..., Any])
Column = tuple[str, str]  # (header, field name in the REST document)


def output_option(func: F) -> F:
    """Add `--output table|json` to a command that prints data."""
    return click.option(
        "--output", "-o", "output", type=click.Choice(["table", "json"]), default="table",
        show_default=True, help="Output format; json prints the REST API's document.",
    )(func)


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False))


def cell(value: object) -> str:
    """A table cell for one value."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value) if str(value) != "" else "-"


def table(rows: Sequence[Mapping[str, object]], columns: Sequence[Column]) -> str:
    """Render rows as an aligned text table."""
    grid = [[h for h, _ in columns]] + [[cell(r.get(f)) for _, f in columns] for r in rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
             for line in grid]
    return "\n".join(lines)


def show(document: Any, output: str, *, columns: Sequence[Column] = (),
         items_key: str = "") -> None:
    """Print a document: JSON as-is, else a table of its items or a field list."""
    if output == "json":
        emit_json(document)
        return
    if items_key:
        rows = document.get(items_key, []) if isinstance(document, dict) else document
        click.echo(table(rows, columns))
        total = document.get("total_count") if isinstance(document, dict) else None
        if total is not None and total > len(rows):
            click.echo(f"({len(rows)} of {total}; use --page-number/--page-size)")
        return
    show_fields(document)


def show_fields(document: Mapping[str, object]) -> None:
    """Print `name: value` lines for one resource."""
    width = max((len(k) for k in document), default=0)
    for key, value in document.items():
        click.echo(f"{key.ljust(width)}  {cell(value)}")


def fail(error: ClientError, output: str) -> NoReturn:
    """Print a refused request (code + message) and exit non-zero."""
    if output == "json":
        emit_json({"code": error.code, "message": error.message, "request_id": error.request_id})
    else:
        rid = f" (request id {error.request_id})" if error.request_id else ""
        click.echo(f"Error: {error.code}: {error.message}{rid}", err=True)
    sys.exit(1)


def done(document: Mapping[str, object], output: str, message: str) -> None:
    """Report a successful action without a body: JSON document or one line."""
    if output == "json":
        emit_json(document)
    else:
        click.echo(message)
