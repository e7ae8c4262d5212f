/**
 * The SQL database Herald keeps its log, results and dead letters in: PostgreSQL through a
 * `pg` pool, a server's (DATABASE_URL) or the one Herald runs itself (the embedded default).
 * Placeholders are `$1, $2 ...`; int8 columns come back as JS numbers.
 */
export interface SqlExecutor {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

export interface Database extends SqlExecutor {
  readonly kind: 'postgres';
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * Calls `onNotify` whenever a transaction working in this database's schema, in any process,
   * commits `SELECT pg_notify(channel, current_schema())`. Best effort: while the listening
   * connection is down, notifications are missed, so listeners keep a slower poll as well.
   * Resolves to a function that stops listening.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
