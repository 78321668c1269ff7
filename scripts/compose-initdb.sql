-- docker compose: the databases config/dev.toml's targets use, created once with the volume
-- (as scripts/run-dev.sh creates them for `make run`).
CREATE DATABASE deploy_gate_target;
CREATE DATABASE deploy_gate_demo;
CREATE DATABASE deploy_gate_shadow;
