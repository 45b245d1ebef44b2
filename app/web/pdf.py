"""The one-page summary as PDF, with WeasyPrint (HTML + CSS -> PDF, no browser needed).

Issue 4: "Printable and savable as PDF"; it must be exactly one US Letter page for the most
complex synthetic patient. The PDF is the summary page's own HTML with the print stylesheet
(`static/css/print.css`), so screen, browser print and PDF cannot drift apart. Stylesheets are
read from the package directory and the fetcher allows ``data:`` URLs only (the charts), so
rendering never touches the network (no SSRF through a crafted URL in chart data).

System packages WeasyPrint needs on Debian: ``libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b
libharfbuzz-subset0 fonts-dejavu-core`` (see the report for `.ci/run`).
"""

from __future__ import annotations

import io
import logging
import warnings
from functools import cache
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # fontTools imports brotlicffi, whose import hook raises an ImportWarning under some
    # meta-path finders (pytest's assertion rewriter among them); nothing of ours to fix.
    warnings.simplefilter("ignore", ImportWarning)
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

__all__ = ["PAPER_SIZES", "PDF_STYLESHEETS", "count_pages", "render_pdf"]

STATIC = Path(__file__).parent.parent / "static"
PDF_STYLESHEETS = ("css/app.css", "css/summary.css", "css/print.css")

# WeasyPrint logs every unsupported CSS property at WARNING; keep ours quiet.
logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)


class _DataOnly(URLFetcher):  # type: ignore[misc]
    """Fetches ``data:`` URLs only; anything else is refused."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols={"data"})


@cache
def _stylesheets() -> tuple[CSS, ...]:
    return tuple(CSS(filename=str(STATIC / name)) for name in PDF_STYLESHEETS)


#: Paper sizes a clinic can choose (`PPACT_PAPER_SIZE`); print.css lays out for Letter.
PAPER_SIZES = ("letter", "a4")


@cache
def _paper(size: str) -> CSS:
    if size not in PAPER_SIZES:
        raise ValueError(f"paper size must be one of {', '.join(PAPER_SIZES)}, got {size!r}")
    return CSS(string=f"@page {{ size: {size}; }}")


def _document(html: str, paper_size: str) -> Any:
    stylesheets = [*_stylesheets(), _paper(paper_size)]
    return HTML(string=html, url_fetcher=_DataOnly()).render(stylesheets=stylesheets)


def render_pdf(html: str, paper_size: str = "letter") -> bytes:
    """PDF bytes of a page rendered in print mode (its own <link> tags left out)."""
    buffer = io.BytesIO()
    _document(html, paper_size).write_pdf(buffer)
    return buffer.getvalue()


def count_pages(html: str, paper_size: str = "letter") -> int:
    """How many pages the page would print on (used by tests and the one-page check)."""
    return len(_document(html, paper_size).pages)
