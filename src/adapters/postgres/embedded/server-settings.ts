/**
 * The settings Herald runs its own PostgreSQL with: one machine, one Herald, durable. Written
 * to herald.conf in the cluster directory at every start (postgresql.conf includes it, so an
 * upgrade of Herald brings its new choices, and `ALTER SYSTEM` still overrides any of them).
 * The access settings (where it listens) are given on the command line instead: nothing else
 * may change them.
 */
export function serverSettings(options: {
  poolSize: number;
  /** False for memory://, which keeps nothing and so has nothing to flush to disk. */
  durable: boolean;
}): Record<string, string> {
  const durability = options.durable ? 'on' : 'off';
  return {
    // Herald's pool, its LISTEN connections, a migration and an operator's psql, with room for
    // a second pool during a restart; the slots cost little shared memory.
    max_connections: String(Math.max(100, options.poolSize * 2 + 20)),
    // PostgreSQL's own default, said out loud: the cache Herald's working set needs; the OS
    // page cache holds the rest.
    shared_buffers: "'128MB'",
    // Durable, as a server: a 202 survives a crash of the machine.
    fsync: durability,
    synchronous_commit: durability,
    full_page_writes: durability,
    // Nothing replicates from an embedded cluster: less WAL for bulk loads and new tables.
    wal_level: 'minimal',
    max_wal_senders: '0',
    // Herald stores timestamptz; the server's zone only shapes text output and date_trunc.
    timezone: "'UTC'",
    log_timezone: "'UTC'",
    log_line_prefix: "'%m [%p] '",
  };
}

/** herald.conf's text. */
export function settingsFile(settings: Record<string, string>): string {
  const lines = Object.entries(settings).map(([name, value]) => `${name} = ${value}`);
  return `# Written by Herald at every start (see src/adapters/postgres/embedded/server-settings.ts).\n# Override a setting with ALTER SYSTEM, not here.\n${lines.join('\n')}\n`;
}

/** The access settings, as `postgres -c` arguments. */
export function accessArguments(socketDir: string, port: number): string[] {
  return [
    '-c',
    'listen_addresses=',
    '-c',
    // Quoted: the value is a list, split at commas.
    `unix_socket_directories="${socketDir.replaceAll('"', '""')}"`,
    '-c',
    'unix_socket_permissions=0700',
    '-c',
    `port=${port}`,
  ];
}
