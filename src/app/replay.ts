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
  if (letter.payload === null) {
    throw new HeraldError(
      ErrorCodes.VALIDATION,
      `dead letter "${id}" has no payload the store can hold (${letter.payloadText === null ? 'a minimal record' : 'kept as text'}): replaying it would fail the same way`,
      { details: { field: 'id' } },
    );
  }
  const generation = letter.replayCount + 1;
  await broker.publish([replayMessage(letter, letter.payload, generation, correlationId)]);
  const replayed = await store.markReplayed(id, generation);
  return { id, generation, replayed };
}

function replayMessage(
  letter: DeadLetter,
  payload: Record<string, unknown>,
  generation: number,
  correlationId: string,
): OutgoingMessage {
  return {
    id: letter.id,
    topic: letter.topic,
    key: letter.key,
    type: letter.type,
    value: payload,
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
 * Letters whose payload the store could not hold (kept as text, or minimal records) are
 * listed but not replayed: they would fail the same way.
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
  const replayable = letters.flatMap((l) =>
    l.payload === null ? [] : [{ ...l, payload: l.payload }],
  );
  for (let i = 0; i < replayable.length; i += REPLAY_BATCH) {
    const chunk = replayable.slice(i, i + REPLAY_BATCH);
    await broker.publish(
      chunk.map((l) => replayMessage(l, l.payload, l.replayCount + 1, correlationId)),
    );
    for (const letter of chunk) {
      if (await store.markReplayed(letter.id, letter.replayCount + 1)) replayed++;
    }
  }
  return { dryRun, ids, replayed };
}

const REPLAY_BATCH = 500;
