"""The Markdown filters and the template environment (the full reports are pinned in test_build.py)."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError

from service.reports.render import cell, fenced, markdown_environment


def test_a_cell_is_one_line_with_its_pipes_escaped():
    assert cell("a | b\n  c") == "a \\| b c"


def test_a_fence_is_longer_than_any_run_of_backticks_inside():
    assert fenced("SELECT 1;\n", "sql") == "```sql\nSELECT 1;\n```"
    assert fenced("-- ```` four\nSELECT 1;", "sql").splitlines()[0] == "`````sql"


def test_a_misspelt_name_in_a_template_fails_instead_of_printing_nothing():
    with pytest.raises(UndefinedError):
        markdown_environment.from_string("{{ report.no_such_part }}").render(report=object())


def test_markdown_is_not_html_escaped():
    assert markdown_environment.from_string("{{ text | inline }}").render(text="a < b & 'c'") == "a < b & 'c'"
