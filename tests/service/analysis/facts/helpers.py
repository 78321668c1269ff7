"""Helpers shared by the facts tests."""


def effects_of(facts):
    return {(e.action, e.kind, e.parent, e.name) for e in facts.effects}
