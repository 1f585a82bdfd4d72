"""What we may keep about the device making a request: a truncated IP and a coarse summary.

Evidence (consent records, staff sessions) needs to say roughly where a request came from,
never exactly: IPv4 addresses are cut to /24 and IPv6 to /48, as analytics vendors that
respect privacy do; the user agent is reduced to "browser on platform".
"""

from __future__ import annotations

import ipaddress

from fastapi import Request

_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("python-", "Python client"),
)
_PLATFORMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def truncate_ip(address: str | None) -> str | None:
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    kept = int(ip) >> (ip.max_prefixlen - prefix) << (ip.max_prefixlen - prefix)
    return f"{type(ip)(kept)}/{prefix}"  # as ip_network(..., strict=False) writes it, faster


def request_ip_prefix(request: Request) -> str | None:
    return truncate_ip(request.client.host if request.client else None)


def client_summary(user_agent: str | None) -> str | None:
    if not user_agent:
        return None
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), "Unknown browser")
    platform = next((name for marker, name in _PLATFORMS if marker in user_agent), None)
    return f"{browser} on {platform}" if platform else browser
