"""Outbound HTTP to addresses someone typed in: public http(s) hosts only, never a redirect (pure Python).

Why
    A gateway's endpoint URL says where the Odoo server sends the provider's
    credentials and which server it reads answers from. Whoever can change it
    could make the server call what only the server can reach (127.0.0.1, the
    cloud's metadata service on 169.254.169.254, the private network), or
    bounce a call carrying credentials elsewhere with a redirect.

What
    * ``check_url(url)`` / ``check_endpoint_url(url)``: the URL's form: http
      or https, a host, no ``user:password@``, no spaces, control characters
      or backslashes (parsers disagree on those); an endpoint (a base URL the
      providers append paths to) has no query or fragment either.
    * ``is_public_address(ip)``: not loopback, private, link-local, shared
      (100.64/10), multicast, reserved, unspecified or documentation; for IPv6
      also not an IPv4 address in disguise (IPv4-mapped ``::ffff:a.b.c.d``,
      6to4, NAT64) whose IPv4 address is not public.
    * ``outbound_session(allow_private_network)``: the calling thread's
      keep-alive ``requests`` session. None follows redirects (the caller
      sees the 3xx). Without ``allow_private_network``, every new connection
      resolves the host once, refuses before connecting when any address it
      resolves to is not public (whatever the spelling: ``2130706433``,
      ``0177.0.0.1``, ``localhost``, ``[::ffff:127.0.0.1]``), and connects to
      the checked address itself, while the Host header, TLS SNI and the
      certificate check keep the name: a DNS answer that changes between the
      check and the connection (rebinding) cannot take the call elsewhere.
      The connected peer is checked again.

Refusals raise ``OutboundRefused`` (not an ``OSError``, so that neither
urllib3 nor requests turn it into a connection error worth retrying), with a
``reason`` (one of ``REASONS``) and the refused address as ``detail``.

Caveat: through a proxy set in the environment (``HTTPS_PROXY``), the proxy
connects, not us: the host is checked when the request leaves, and the proxy
resolves it again.
"""

import ipaddress
import re
import socket
import threading
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

SCHEMES = ("http", "https")
REASONS = ("scheme", "host", "credentials", "characters", "query", "private")
# spaces, control characters and backslashes: parsers (ours, requests', a proxy's) read them differently
_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")
# IPv6 ranges that carry an IPv4 address the packets end up at
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT; not "private" for every Python version


class OutboundRefused(Exception):
    """A URL or an address the server will not call: ``reason`` (one of ``REASONS``), ``host`` (as
    written in the URL) and ``detail`` (what was refused: the addresses a name resolved to)."""

    def __init__(self, reason, detail="", host=""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.host = host


# ---------------------------------------------------------------------- URLs
def check_url(url):
    """Raise OutboundRefused unless ``url`` is an http(s) URL with a host and no credentials."""
    url = url or ""
    if _UNSAFE_CHARACTERS.search(url):
        raise OutboundRefused("characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError for a port that is not a number in range
    except ValueError as e:
        raise OutboundRefused("host", str(e)) from e
    if parts.scheme.lower() not in SCHEMES:
        raise OutboundRefused("scheme", parts.scheme)
    if "@" in parts.netloc:
        raise OutboundRefused("credentials")
    if not parts.hostname or port == 0:
        raise OutboundRefused("host")
    return parts


def check_endpoint_url(url):
    """``check_url``, and no query or fragment: the providers append their paths to an endpoint."""
    parts = check_url(url)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise OutboundRefused("query")
    return parts


# ---------------------------------------------------------------------- addresses
def is_public_address(address):
    """True when ``address`` (an IPv4 or IPv6 address, as text) is a public unicast address."""
    try:
        ip = ipaddress.ip_address(str(address).split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is no excuse
    except ValueError:
        return False
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(str(embedded))
        if ip.is_site_local:
            return False
    elif ip in _SHARED:
        return False
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def resolve_public(host, port):
    """The addresses of ``host`` (getaddrinfo tuples), all public; OutboundRefused when any is not.

    All, not just the first: a name answering one public and one private
    address would otherwise reach the private one on a retry. socket.gaierror
    (an OSError) when the name does not resolve.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    refused = sorted({info[4][0] for info in infos if not is_public_address(info[4][0])})
    if refused or not infos:
        raise OutboundRefused("private", f"{host} -> {', '.join(refused)}", host=host)
    return infos


# ---------------------------------------------------------------------- connections
class _PublicOnlyConnectionMixin:
    """A urllib3 connection that connects only to public addresses, to the very address it checked."""

    def _new_conn(self):
        host = self._dns_host
        try:
            infos = resolve_public(host, self.port)
        except OSError as e:  # the name does not resolve: as urllib3 says it
            raise NewConnectionError(self, f"Failed to establish a new connection: {e}") from e
        error = None
        for info in infos:
            address = info[4][0]
            # urllib3 connects to ``_dns_host``; the Host header, SNI and certificate check read ``host``
            # only after this method, once the name is back
            self._dns_host = address
            try:
                sock = super()._new_conn()
            except NewConnectionError as e:  # this address is down: the next one, as urllib3 does
                error = e
                continue
            finally:
                self._dns_host = host
            peer = sock.getpeername()[0]
            if not is_public_address(peer):  # cannot happen with an address given as such; checked anyway
                sock.close()
                raise OutboundRefused("private", f"{host} -> {peer}", host=host)
            return sock
        raise error


class _PublicOnlyHTTPConnection(_PublicOnlyConnectionMixin, HTTPConnection):
    pass


class _PublicOnlyHTTPSConnection(_PublicOnlyConnectionMixin, HTTPSConnection):
    pass


class _PublicOnlyHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _PublicOnlyHTTPConnection


class _PublicOnlyHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _PublicOnlyHTTPSConnection


class PublicOnlyAdapter(HTTPAdapter):
    """requests' adapter whose direct connections go to public addresses only."""

    def init_poolmanager(self, *args, **kwargs):
        result = super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PublicOnlyHTTPConnectionPool,
            "https": _PublicOnlyHTTPSConnectionPool,
        }
        return result

    def send(self, request, **kwargs):
        if select_proxy(request.url, kwargs.get("proxies")):
            # the proxy connects (see the module's caveat): check the name before it leaves
            parts = urlsplit(request.url)
            resolve_public(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        return super().send(request, **kwargs)


class _NoRedirectSession(requests.Session):
    """A session that never follows a redirect, whatever ``allow_redirects`` says: the caller gets the 3xx."""

    def get_redirect_target(self, resp):
        return None


_local = threading.local()


def outbound_session(allow_private_network=False):
    """The calling thread's keep-alive session (``requests.Session`` is not thread-safe) for this policy."""
    name = "private_allowed" if allow_private_network else "public_only"
    session = getattr(_local, name, None)
    if session is None:
        session = _NoRedirectSession()
        if not allow_private_network:
            adapter = PublicOnlyAdapter()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        setattr(_local, name, session)
    return session
