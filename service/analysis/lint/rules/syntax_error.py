"""The migration, or the body of one of its DO blocks, does not parse.

Problem:
    PostgreSQL parses the whole file before running any of it, so a syntax error anywhere fails the
    migration with SQLSTATE 42601 and Prisma records it as failed, blocking every later deploy
    (P3009) until someone resolves it. A DO block's PL/pgSQL body is only compiled when the DO
    statement runs, so an error there shows up late, after the statements before it have run.

Solution:
    Fix the SQL at the reported line and column. Run the migration against a scratch database
    (`prisma migrate dev`, or `deploy-gate deploy` against a local PostgreSQL) before committing it.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.registry import rule


@rule("syntax-error", severity="error", family="syntax", help="Fix the SQL here; PostgreSQL rejects the file as written.")
def syntax_error(context: LintContext) -> Iterator[Violation]:
    for problem in context.parsed.problems:
        help = "Fix the PL/pgSQL of this DO block; PostgreSQL fails the migration when it reaches it." if problem.in_do_block else None
        yield Violation(problem.message, position=problem.position, help=help)
