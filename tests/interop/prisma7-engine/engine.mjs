// Runs one command of the schema engine that prisma@7.10.1 pins (engines d1b3f377), the
// WebAssembly build the CLI package ships as build/schema_engine_bg.wasm, and prints its answer
// as one JSON line. See tests/interop/prisma7_engine.py for why and what it can show.
//
// Usage: node engine.mjs <apply|diagnose|rolled-back|applied> <migrations dir> [migration name]
// Input: DATABASE_URL. Output: {"ok": <result>} or {"error": {"code", "message"}}.
//
// The registry has no @prisma/schema-engine-wasm at d1b3f377, so the JavaScript glue comes from
// 8.1.0-2 (59be4fda), whose 90 imports are the pinned build's own; the engine is the pinned one
// (version() answers d1b3f377…).
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import * as glue from '@prisma/schema-engine-wasm/schema_engine_bg'
import { PrismaPg } from '@prisma/adapter-pg'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'

const require = createRequire(import.meta.url)
const wasmPath = path.join(path.dirname(require.resolve('prisma/package.json')), 'build', 'schema_engine_bg.wasm')
const instance = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(wasmPath)), { './schema_engine_bg.js': glue })
glue.__wbg_set_wasm(instance.exports)
instance.exports.__wbindgen_start()

const [command, directory, migrationName] = process.argv.slice(2)
// Prisma lists the folders with Dirent.isDirectory() and sorts them with localeCompare.
const names = fs
  .readdirSync(directory, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort((a, b) => a.localeCompare(b))
const migrationsList = {
  baseDir: directory,
  lockfile: { path: 'migration_lock.toml', content: 'provider = "postgresql"\n' },
  migrationDirectories: names.map((name) => ({
    path: name,
    migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: fs.readFileSync(path.join(directory, name, 'migration.sql'), 'utf8') } },
  })),
  shadowDbInitScript: '',
}
const filters = { externalTables: [], externalEnums: [] }
const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPg({ connectionString: process.env.DATABASE_URL }))
const schema = 'datasource db {\n  provider = "postgresql"\n}\n'
const engine = await glue.SchemaEngine.new({ datamodels: [['schema.prisma', schema]] }, () => {}, adapter)

const commands = {
  version: async () => glue.version(),
  apply: () => engine.applyMigrations({ migrationsList, filters }),
  diagnose: () => engine.diagnoseMigrationHistory({ migrationsList, optInToShadowDatabase: false, filters }),
  'rolled-back': () => engine.markMigrationRolledBack({ migrationName }),
  applied: () => engine.markMigrationApplied({ migrationsList, migrationName }),
}
let answer
try {
  answer = { ok: (await commands[command]()) ?? null }
} catch (error) {
  answer = { error: { code: error.code ?? null, message: String(error.message ?? error).split('\n')[0] } }
}
process.stdout.write(JSON.stringify(answer) + '\n')
process.exit(0)
