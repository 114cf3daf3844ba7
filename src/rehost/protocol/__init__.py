"""Typed messages that cross a process boundary, shared by both ends (stdlib only, Python 3.6+).

- `hello`: the data port's control frames (HELLO, HELLO_OK and its resume state, DISK_DONE,
  DISK_OK, ERROR), agent <-> transit, carried by `rehost.wire` control frames;
- `work`: the agent's work item (`GET /api/v1/agent/work`), agent <-> API;
- `hostapi`: the transit-host API (`/api/v1/transit-hosts/self/*`), transit host <-> server.

Every message is a `typing.NamedTuple` with `to_json()` (a JSON-ready dict) and
`from_json(doc)`, which checks every field's type and raises `rehost.wire.WireError` naming
the message and the field. The agent imports this package, so it must stay importable on
Python 3.6 with the standard library alone (no dataclasses, no PEP 585/604 at run time).
"""
