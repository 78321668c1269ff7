"""Configuration: one settings object from the environment, and the targets file it points to.

- `settings`: `Settings`, read from the `DEPLOY_GATE_*` environment variables.
- `schema`: the targets file's keys, documented and validated.
- `records`: what the targets file holds, as typed records (`Config`, `Target`, `Token`, ...).
- `load`: `load_config` reads the file and builds the records, secrets from the environment it names;
  `load_lint_target` reads one target's policy and lint levels alone, with no secret (`deploy-gate lint --target`).
- `errors`: `ConfigError`, raised by both with a message that says where, never a secret.
"""
