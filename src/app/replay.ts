import { ErrorCodes, HeraldError } from '../errors.ts';
import type { Broker, OutgoingMessage } from '../ports/broker.ts';
import type { DeadLetter, DeadLetterFilter, EventStore } from '../ports/event-store.ts';

export interface ReplayResult {
  id: string;
  generation: number;
  replayed: boolean;
}

/**
 * Sends a dead letter back through the pipeline as a new generation of the same event id.
 * Publish first, then mark: a crash in between leaves the letter dead (replayable again),
 * never marked replayed without having been sent. Processing stays idempotent on the id.
 */
export async function replayDeadLetter(
  store: EventStore,
  broker: Broker,
  id: string,
  correlationId: string,
): Promise<ReplayResult> {
  const letter = await store.getDeadLetter(id);
  if (letter === undefined) {
    throw new HeraldError(ErrorCodes.NOT_FOUND, `no dead letter with id "${id}"`);
  }
  const generation = letter.replayCount + 1;
  await broker.publish([replayMessage(letter, generation, correlationId)]);
  const replayed = await store.markReplayed(id, generation);
  return { id, generation, replayed };
}

function replayMessage(
  letter: DeadLetter,
  generation: number,
  correlationId: string,
): OutgoingMessage {
  return {
    id: letter.id,
    topic: letter.topic,
    key: letter.key,
    type: letter.type,
    value: letter.payload,
    headers: { ...letter.headers, replay_correlation_id: correlationId },
    generation,
  };
}

export interface BulkReplayResult {
  dryRun: boolean;
  /** Dead letters matching the filter (up to its limit). */
  ids: string[];
  /** How many were published again and marked replayed. */
  replayed: number;
}

/**
 * Replays every dead letter matching `filter` (a type, reason, time range or list of ids),
 * publishing them in batches, each as its next generation. With `dryRun` only lists them.
 */
export async function replayDeadLetters(
  store: EventStore,
  broker: Broker,
  filter: DeadLetterFilter,
  correlationId: string,
  dryRun = false,
): Promise<BulkReplayResult> {
  const letters = await store.listDeadLetters(filter);
  const ids = letters.map((l) => l.id);
  if (dryRun) return { dryRun, ids, replayed: 0 };
  let replayed = 0;
  for (let i = 0; i < letters.length; i += REPLAY_BATCH) {
    const chunk = letters.slice(i, i + REPLAY_BATCH);
    await broker.publish(chunk.map((l) => replayMessage(l, l.replayCount + 1, correlationId)));
    for (const letter of chunk) {
      if (await store.markReplayed(letter.id, letter.replayCount + 1)) replayed++;
    }
  }
  return { dryRun, ids, replayed };
}

const REPLAY_BATCH = 500;
