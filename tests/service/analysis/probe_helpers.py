"""What the effect probe's tests share: probing a script, and finding one check in the result."""

from service.analysis.facts.analyze import analyze_migration
from service.analysis.probe import probe_effects


def probe(conn, script, schema="public"):
    return probe_effects(conn, analyze_migration(script, "m"), schema)


def check_of(result, kind, name, action="create"):
    return next(check for check in result.checks if (check.effect.action, check.effect.kind, check.effect.name) == (action, kind, name))
