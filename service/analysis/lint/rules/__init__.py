"""The lint rules, one module each, named after the rule's id (`drop_table.py` holds `drop-table`).

Every module here is imported by `service.analysis.lint.registry.load_rules`; a module registers
its rule with `@rule` and documents it in its docstring (summary, `Problem:`, `Solution:`).
"""
