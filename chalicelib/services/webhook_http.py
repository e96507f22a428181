"""Outbound webhook requests: which URLs are allowed, and a POST that cannot be steered
to an address the checks refused.

What is checked, at registration and again before every attempt (DNS may change meanwhile):
- the URL is absolute, at most 2,048 characters, `https`, with a host, a valid port, and no
  user:password part (credentials would be stored and logged) nor fragment;
- every address the host resolves to is public (`ipaddress.is_global`, and not multicast):
  loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, where
  cloud metadata services answer, and fe80::/10), carrier-grade NAT, reserved and
  unspecified addresses are refused, IPv4-mapped IPv6 addresses by their IPv4 meaning. One
  refused address refuses the host: a receiver cannot mix a public and a private record.
With settings.webhooks_allow_local (the local stack and the tests only), private addresses
are allowed, and so is plain `http` to 127.0.0.1, ::1 or localhost.

The request connects to the address that was checked (the host name still goes in the Host
header and in TLS's server name, so certificates are verified as usual), so a DNS answer
that changes between the check and the connection (DNS rebinding) cannot reach a refused
address. Redirects are not followed: a 3xx is a failed attempt.
"""
import http.client
import ipaddress
import socket
import ssl
import urllib.parse
from dataclasses import dataclass

from chalicelib.errors import BadRequest
from chalicelib.settings import settings

MAX_URL_CHARS = 2048
LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}
# Only the start of a receiver's answer is kept (for nothing but the connection's sake).
MAX_RESPONSE_BYTES = 4096


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent on the request line
    address: str  # the checked address the request connects to


def check_url(url: str, allow_local: bool | None = None) -> Target:
    """The URL's target, or a 400 naming what is wrong with it."""
    allow_local = settings.webhooks_allow_local if allow_local is None else allow_local
    if len(url) > MAX_URL_CHARS or any(c.isspace() or ord(c) < 32 for c in url):
        raise _bad("webhook_url_invalid", "The URL is too long or contains spaces or control characters.")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise _bad("webhook_url_invalid", "The URL cannot be parsed (is the port a number?).") from None
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("https", "http") or not host:
        raise _bad("webhook_url_invalid", "The URL must be absolute: https://host/path.")
    if parts.username is not None or parts.password is not None:
        raise _bad("webhook_url_invalid", "The URL must not contain a user name or password.")
    if parts.fragment:
        raise _bad("webhook_url_invalid", "The URL must not have a #fragment.")
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allow_local and host in LOCAL_HOSTS):
        raise _bad("webhook_url_not_https", "Webhook URLs must use https.")
    port = port or (443 if scheme == "https" else 80)
    address = resolve_public(host, port, allow_local)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port, path, address)


def resolve_public(host: str, port: int, allow_local: bool) -> str:
    """The first address of the host, if every one of its addresses is allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise _bad("webhook_host_unresolvable", f"The host {host!r} does not resolve.") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise _bad("webhook_host_unresolvable", f"The host {host!r} does not resolve.")
    if not allow_local:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise _bad("webhook_host_not_public",
                       f"The host {host!r} resolves to a private, loopback, link-local or reserved "
                       f"address ({refused[0]}); webhooks go to public addresses only.",
                       details={"address": refused[0]})
    return addresses[0]


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _bad(code: str, message: str, details: dict | None = None) -> BadRequest:
    return BadRequest(message, code=code, details=details)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(target: Target, body: bytes, headers: dict, timeout: float) -> int:
    """POST the body to the checked address; the response's HTTP status. Raises OSError (and
    http.client errors) when there is no response within the timeout."""
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return response.status
    finally:
        connection.close()
