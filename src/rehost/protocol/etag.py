"""The tag of a JSON document, the same on both ends of a long poll (stdlib only, Python 3.6+).

The server tags the agent's work answer with it; the agent tags what it received the same way
and sends it back as `known`, so the server holds the next answer until it differs.
"""

import hashlib
import json
from typing import Any, Dict


def etag_of(doc: "Dict[str, Any]") -> str:
    """A short stable tag of a JSON object (key order and spacing do not matter)."""
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
