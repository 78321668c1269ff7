// Prisma CLI configuration for the deploy-gate interop oracle.
//
// Uses Prisma's JavaScript/WebAssembly schema engine (engine: 'js') with the
// node-postgres driver adapter, so the CLI works fully offline: no native
// schema-engine binary has to be downloaded.
//
// Inputs (both required, set by tests/interop/prisma_cli.py):
//   DATABASE_URL           postgres connection string (may carry ?schema=)
//   PRISMA_MIGRATIONS_DIR  absolute path of the `migrations` folder to use
import path from 'node:path'
import { defineConfig } from 'prisma/config'
import { PrismaPg } from '@prisma/adapter-pg'
import type { PoolConfig } from 'pg'

function requireEnv(name: string): string {
  const value = process.env[name]
  if (!value) {
    throw new Error(`${name} must be set (see tests/interop/prisma_cli.py)`)
  }
  return value
}

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join(__dirname, 'schema.prisma'),
  migrations: { path: requireEnv('PRISMA_MIGRATIONS_DIR') },
  async adapter() {
    const connectionString = requireEnv('DATABASE_URL')
    // The CLI never closes the adapter's pg.Pool, so without allowExitOnIdle
    // every successful command lingers ~10 s (pg's idleTimeoutMillis) before
    // the process exits. Error paths call process.exit() and are unaffected.
    const poolConfig: PoolConfig = { connectionString, allowExitOnIdle: true }
    // The native schema engine honours `?schema=foo` (targets that schema and
    // sets search_path to it). PrismaPg ignores the URL parameter, so mirror
    // it: the `schema` option makes the engine inspect/create that schema, and
    // search_path makes its unqualified SQL (e.g. `CREATE TABLE
    // _prisma_migrations`) land there too.
    const schema = new URL(connectionString).searchParams.get('schema')
    if (!schema) {
      return new PrismaPg(poolConfig)
    }
    const searchPath = `"${schema.replace(/"/g, '""')}"`
    return new PrismaPg(
      { ...poolConfig, options: `-c search_path=${searchPath}` },
      { schema },
    )
  },
})
