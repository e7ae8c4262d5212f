#!/usr/bin/env node
// The `herald` command. Herald runs on Node 24 (TypeScript by type stripping); under an older
// Node (package.json's engines: >= 20, what this file needs) it re-runs itself with the Node 24
// the project pins as a dependency, which is also what every dependency then runs on. The server commands
// (start, api, worker) run with V8 heap flags that keep their memory down (src/cli/heap-flags.ts):
// Node takes those only when it starts, so the process replaces itself (execve: same pid, same
// signals and exit code) with Node started with them. Where execve is not available (Windows)
// Herald runs without them.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  const [{ parseArgs }, { heapFlagsToAdd }] = await Promise.all([
    import('../src/cli/args.ts'),
    import('../src/cli/heap-flags.ts'),
  ]);
  const args = process.argv.slice(2);
  const flags = heapFlagsToAdd(parseArgs(args).command, process.execArgv, process.env.NODE_OPTIONS);
  if (flags.length > 0 && typeof process.execve === 'function') {
    // Returns only if it failed; Herald then runs as it is.
    try {
      process.execve(process.execPath, [
        process.execPath,
        ...flags,
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        ...args,
      ]);
    } catch (error) {
      process.emitWarning(`herald: running without ${flags.join(' ')}: ${error}`);
    }
  }
  await import('../src/cli/main.ts');
} else {
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(pinned)) {
    process.stderr.write(
      `herald needs Node.js 24 or later (this is ${process.version}); run npm install\n`,
    );
    process.exit(2);
  }
  const child = spawn(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
