"""The EHR's `smart_style_url` as a stylesheet of CSS custom properties (``/l/{id}/style.css``).

SMART App Launch 2.2 "Styling": the EHR may send `smart_style_url`, a JSON document with
``color_background``, ``color_text``, ``font_family_body`` and similar, so that the app can look
like the EHR around it. Our CSP allows stylesheets from 'self' only (no inline styles), so the
values become a small stylesheet served by the app that `app.css` reads through ``var(--...)``.

The URL comes from the token response, which is trusted no more than its server: it is fetched
only when its origin is the launch's FHIR server origin (the allowlisted issuer), without
following redirects, with a short timeout and size cap. Each value must match a strict pattern
(colour, length, font list) or it is dropped, so nothing from the document can break out of a
declaration. Any failure gives an empty stylesheet and the app's own look.
"""

from __future__ import annotations

import logging
import re
import time

import httpx

__all__ = ["STYLE_PROPERTIES", "css_from_style", "style_css"]

log = logging.getLogger(__name__)

_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|rgba?\(\s*[\d.\s,%]+\)")
_LENGTH = re.compile(r"\d{1,3}(\.\d{1,3})?(px|em|rem|pt|%)?")
_FONTS = re.compile(r"[A-Za-z0-9 ,\-'\"]{1,120}")
#: SMART style key -> (our custom property, value pattern).
STYLE_PROPERTIES: dict[str, tuple[str, re.Pattern[str]]] = {
    "color_background": ("--ppact-bg", _COLOUR),
    "color_text": ("--ppact-text", _COLOUR),
    "color_highlight": ("--ppact-accent", _COLOUR),
    "color_error": ("--ppact-error", _COLOUR),
    "color_success": ("--ppact-success", _COLOUR),
    "color_modal_backdrop": ("--ppact-backdrop", _COLOUR),
    "dim_border_radius": ("--ppact-radius", _LENGTH),
    "dim_font_size": ("--ppact-font-size", _LENGTH),
    "dim_spacing_size": ("--ppact-spacing", _LENGTH),
    "font_family_body": ("--ppact-font-body", _FONTS),
    "font_family_heading": ("--ppact-font-heading", _FONTS),
}
MAX_BYTES = 64 * 1024
CACHE_SECONDS = 600.0
_cache: dict[str, tuple[float, str]] = {}


def css_from_style(document: object) -> str:
    """A ``:root { ... }`` rule from a SMART style document; unknown or unsafe values dropped."""
    if not isinstance(document, dict):
        return ""
    declarations = []
    for key, (prop, pattern) in STYLE_PROPERTIES.items():
        value = document.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = f"{value}px"
        if isinstance(value, str) and pattern.fullmatch(value.strip()):
            declarations.append(f"  {prop}: {value.strip()};")
    return ":root {\n" + "\n".join(declarations) + "\n}\n" if declarations else ""


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host.lower(), url.port)


async def style_css(
    style_url: str | None,
    iss: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """The stylesheet for a launch; empty when there is no style, or it is off-origin or bad."""
    if not style_url:
        return ""
    try:
        url, base = httpx.URL(style_url), httpx.URL(iss)
    except (httpx.InvalidURL, TypeError):
        return ""
    if url.scheme not in {"http", "https"} or _origin(url) != _origin(base):
        log.info("smart style url not on the issuer origin; ignored")
        return ""
    cached = _cache.get(style_url)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    try:
        async with httpx.AsyncClient(
            timeout=3.0, follow_redirects=False, transport=transport
        ) as client:
            response = await client.get(url, headers={"Accept": "application/json"})
        if response.status_code != 200 or len(response.content) > MAX_BYTES:
            return ""
        css = css_from_style(response.json())
    except (httpx.HTTPError, ValueError):
        log.info("smart style could not be read")
        return ""
    _cache[style_url] = (time.monotonic(), css)
    return css
