// Preloaded by tests/interop/prisma_cli.py via NODE_OPTIONS=--require.
//
// Prisma 6.19's WebAssembly schema engine arms a 10 s JS timer for its
// advisory-lock timeout (pg_advisory_lock(72707369)) and never clears it, so
// every *successful* `migrate deploy` / `migrate resolve` keeps node alive
// ~10 s after the work is done. We unref only timers created from inside the
// WebAssembly engine: they still fire while anything else (e.g. a pending
// lock query) keeps the process alive, so the P1002 lock timeout behaves
// exactly as before; they just no longer delay exit.
'use strict'

const originalSetTimeout = global.setTimeout

global.setTimeout = function setTimeout(callback, delay, ...args) {
  const timer = originalSetTimeout.call(this, callback, delay, ...args)
  if (new Error().stack.includes('wasm://') && typeof timer?.unref === 'function') {
    timer.unref()
  }
  return timer
}
