#!/usr/bin/env bash
# Gate this Vercel build on deploy-gate before `next build` (package.json's vercel-build).
#
# The build does not run `prisma migrate deploy`: Vercel's build machines often cannot reach a
# database inside a private network (RDS: Prisma error P1002). With --apply, deploy-gate applies
# the pending migrations from inside the database's network, recovers from a failed one where it
# safely can, and answers: exit 0 proceed (the build goes on), 1 blocked (the reasons are in the
# build log and the build fails), 2 it could not decide (the build fails too).
#
# Project → Settings → Environment Variables:
#   DEPLOY_GATE_URL     https://deploy-gate.example.com
#   DEPLOY_GATE_TOKEN   a token with the deploy and read scopes (mark it Sensitive)
#   DEPLOY_GATE_TARGET  optional: the target to gate on; scope it per environment, e.g. "staging"
#                       for Preview. Without it the target is named like VERCEL_ENV.
# and keep "Automatically expose System Environment Variables" on: the gate reads VERCEL_ENV,
# VERCEL_GIT_COMMIT_SHA and VERCEL_DEPLOYMENT_ID, so a retried or repeated build step of the same
# deployment follows the job the first one started instead of starting another.
set -euo pipefail

# Pin a tag or commit in real use.
package="${DEPLOY_GATE_PACKAGE:-deploy-gate @ git+https://github.com/your-org/deploy-gate@main}"

if ! command -v deploy-gate >/dev/null 2>&1; then
  # The base package is the light client (the CLI; the server is deploy-gate[server]). It needs
  # Python 3.11 or newer: Vercel's build image has it (Node.js 20 and later images ship 3.12).
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "deploy-gate: needs Python 3.11 or newer, found $(python3 --version 2>&1 || echo 'no python3')" >&2
    exit 2
  fi
  venv="${TMPDIR:-/tmp}/deploy-gate-venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$package"
  PATH="$venv/bin:$PATH"
fi

deploy-gate gate --migrations prisma/migrations --apply --timeout 1500
