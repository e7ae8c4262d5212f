/**
 * Loaded with `node --import`: records every module the process loads and, when it exits,
 * writes them with the Node flags it ran with to RECORD_MODULES_TO (JSON).
 */
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env.RECORD_MODULES_TO;
const loaded = new Set<string>();
registerHooks({
  load(url, context, next) {
    loaded.add(url);
    return next(url, context);
  },
});
process.on('exit', () => {
  if (out === undefined) return;
  writeFileSync(out, JSON.stringify({ execArgv: process.execArgv, modules: [...loaded] }));
});
