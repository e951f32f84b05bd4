"""Schemathesis hooks for scripts/schemathesis.sh.

- Cursors (`cursor`, `after`) are opaque: only the hub mints them (signed), so
  any other value is refused with 422 whatever the schema says; cases that
  carry one are left to the API tests, which follow real cursors.
- Webhook, delivery and peer addresses: a name other than `localhost` would
  make the hub ask DNS, and a public address would send traffic off the
  machine; cases whose `url` names anything but loopback are dropped.
"""
import ipaddress
from urllib.parse import urlsplit

import schemathesis

OPAQUE = ("cursor", "after")


@schemathesis.hook
def filter_query(ctx, query):
    return not (isinstance(query, dict) and any(k in query for k in OPAQUE))


def _loopback(url):
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return True  # not a URL: refused before any lookup
    if host is None:
        return True
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@schemathesis.hook
def filter_body(ctx, body):
    if isinstance(body, dict) and isinstance(body.get("url"), str):
        return _loopback(body["url"])
    return True


# tus PATCH bodies are raw bytes, as any octet stream.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
