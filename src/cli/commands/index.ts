/**
 * The client subcommands: each talks to a running Herald over HTTP (`--url`), needs no
 * database, and lives in its own module. Add a command here to make `herald <name>` run it.
 */
import type { ClientCommand } from './common.ts';
import { dlqCommand } from './dlq.ts';
import { eventsCommand } from './events.ts';
import { keysCommand } from './keys.ts';
import { loadTestCommand } from './load-test.ts';
import { logCommand } from './log.ts';
import { monitorCommand } from './monitor.ts';
import { partitionsCommand } from './partitions.ts';
import { produceCommand } from './produce.ts';
import { replayCommand } from './replay.ts';
import { schemasCommand } from './schemas.ts';
import { usersCommand } from './users.ts';

export { type ClientCommand, runClientCommand } from './common.ts';

export const clientCommands: Record<string, ClientCommand> = Object.fromEntries(
  [
    produceCommand,
    loadTestCommand,
    monitorCommand,
    dlqCommand,
    partitionsCommand,
    eventsCommand,
    keysCommand,
    usersCommand,
    schemasCommand,
    replayCommand,
    logCommand,
  ].map((c) => [c.name, c]),
);
