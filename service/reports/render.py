"""Reports as Markdown, from the templates in service/reports/templates/ (the HTML console reuses their pieces)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from service.jobs.states import TERMINAL
from service.reports.words import fact_lines, inline, source_words, when

if TYPE_CHECKING:
    from service.reports.model import IncidentReport


def cell(text: Any) -> str:
    """One table cell of Markdown: one line, its pipes escaped."""
    return inline(text).replace("|", "\\|")


def fenced(text: str, language: str) -> str:
    """A code block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip(chr(10))}\n{fence}"


# Markdown is not HTML: nothing to escape; its own escaping is the filters' (`cell`, `fenced`).
markdown_environment = Environment(
    loader=PackageLoader("service.reports"),
    autoescape=False,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
markdown_environment.filters.update(when=when, inline=inline, cell=cell, fenced=fenced, source_words=source_words)
markdown_environment.globals.update(fact_lines=fact_lines, TERMINAL=TERMINAL)


def render_markdown(report: IncidentReport) -> str:
    return markdown_environment.get_template("report.md.j2").render(report=report)
