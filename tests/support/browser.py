"""A minimal browser for end-to-end tests: follows redirects by hand and keeps cookies.

httpx's cookie jar (``http.cookiejar``) will not send a ``Secure`` cookie over plain HTTP, while
browsers do for loopback (a "potentially trustworthy" origin). So cookies are kept here per host,
as a browser would, and every response is recorded for assertions (no token in HTML or cookies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx


@dataclass
class Browser:
    """One browser profile (cookies shared by all its tabs)."""

    client: httpx.Client = field(
        default_factory=lambda: httpx.Client(follow_redirects=False, timeout=30)
    )
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)
    history: list[httpx.Response] = field(default_factory=list)
    set_cookie_headers: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.client.close()

    def _cookie_header(self, url: str) -> dict[str, str]:
        jar = self.cookies.get(urlsplit(url).netloc, {})
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}

    def _remember(self, response: httpx.Response) -> None:
        self.history.append(response)
        host = response.request.url.netloc.decode()
        for header in response.headers.get_list("set-cookie"):
            self.set_cookie_headers.append(header)
            # Parsed by hand: http.cookies drops a cookie with an attribute it does not know
            # (Partitioned).
            first, *attributes = (part.strip() for part in header.split(";"))
            name, _, value = first.partition("=")
            flags = {a.partition("=")[0].lower(): a.partition("=")[2] for a in attributes}
            jar = self.cookies.setdefault(host, {})
            if flags.get("max-age") == "0" or not value:
                jar.pop(name, None)
            else:
                jar[name] = value

    def request(
        self, method: str, url: str, *, data: dict[str, str] | None = None, follow: bool = True
    ) -> httpx.Response:
        """Send a request; follow redirects (GET) when ``follow``; return the last response."""
        for _ in range(10):
            response = self.client.request(method, url, data=data, headers=self._cookie_header(url))
            self._remember(response)
            if not follow or response.status_code not in (301, 302, 303, 307, 308):
                return response
            url = urljoin(url, response.headers["location"])
            method, data = "GET", None
        raise AssertionError("too many redirects")

    def get(self, url: str, *, follow: bool = True) -> httpx.Response:
        return self.request("GET", url, follow=follow)

    def post(self, url: str, data: dict[str, str], *, follow: bool = True) -> httpx.Response:
        return self.request("POST", url, data=data, follow=follow)

    def all_text(self) -> str:
        """Every body, header and cookie this browser saw."""
        parts = []
        for response in self.history:
            parts.append(str(response.request.url))
            parts.extend(f"{k}: {v}" for k, v in response.headers.multi_items())
            parts.append(response.text)
        return "\n".join(parts)
