/** `herald <command> [--flag value | --flag=value | --switch] ...` */
export interface ParsedArgs {
  command: string | undefined;
  positionals: string[];
  /** Flags by env-var style name: `--worker-batch-size 5` → WORKER_BATCH_SIZE: '5'. */
  flags: Record<string, string>;
  help: boolean;
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positionals: string[] = [];
  const flags: Record<string, string> = {};
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') {
      help = true;
    } else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = (eq === -1 ? arg.slice(2) : arg.slice(2, eq)).replaceAll('-', '_').toUpperCase();
      let value: string;
      if (eq !== -1) value = arg.slice(eq + 1);
      else if (i + 1 < argv.length && !(argv[i + 1] ?? '').startsWith('--'))
        value = argv[++i] ?? '';
      else value = 'true';
      flags[name] = value;
    } else {
      positionals.push(arg);
    }
  }
  const [command, ...rest] = positionals;
  return { command, positionals: rest, flags, help };
}
