import { ErrorCodes, HeraldError } from '../errors.ts';
import type { Broker, OutgoingMessage } from '../ports/broker.ts';
import type { DeadLetter, EventStore } from '../ports/event-store.ts';

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
