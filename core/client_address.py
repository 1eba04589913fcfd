"""The one answer to "which address did this request come from?", for everything that counts
or locks by address: the throttles (DRF's and the pages'), and django-axes' lock-out.

Behind reverse proxies every request arrives from the nearest proxy, so the client's address is
read from ``X-Forwarded-For``, trusting exactly ``DJANGO_NUM_PROXIES`` entries from its right
(each trusted proxy appends the address it saw).  Entries further left were written by the
client and prove nothing.  With 0 proxies (the default) the header is ignored entirely, so a
forged header cannot dodge a limit or lock someone else out.
"""

import ipaddress

from django.conf import settings


def client_address(request) -> str:
    """The client's IP address as the trusted proxies saw it; ``REMOTE_ADDR`` when there are no
    trusted proxies, or when the header does not hold a usable address."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    candidate = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
