/**
 * Herald's messages as Kafka records and back: the value is the message's JSON, the key its
 * ordering key, and the id, type and generation travel in headers beside the message's own
 * (correlation_id, traceparent). A record another producer wrote is delivered marked
 * malformed rather than thrown on (see ../decode.ts).
 */
import type { Message, MessageToProduce } from '@platformatic/kafka';
import type { DeliveredMessage, OutgoingMessage } from '../../../ports/broker.ts';
import { acceptedAtOf, decodeObject } from '../decode.ts';

/** Headers Herald adds to every record beside the message's own (correlation_id, traceparent). */
const EVENT_ID = 'event_id';
const EVENT_TYPE = 'event_type';
const GENERATION = 'generation';

export type Received = Message<string, string, string, string>;

/** The record of `message` on `topic`'s `partition`. */
export function toRecord(
  message: OutgoingMessage,
  topic: string,
  partition: number,
): MessageToProduce<string, string, string, string> {
  return {
    topic,
    key: message.key,
    value: JSON.stringify(message.value),
    partition,
    headers: {
      ...message.headers,
      [EVENT_ID]: message.id,
      [EVENT_TYPE]: message.type,
      [GENERATION]: String(message.generation ?? 0),
    },
  };
}

/** The message a record carries, delivered as the Herald topic `topic`. */
export function toDelivered(record: Received, topic: string): DeliveredMessage {
  const headers: { [name: string]: string } = {};
  for (const [name, value] of record.headers) headers[name] = value;
  const id = headers[EVENT_ID] ?? '';
  const type = headers[EVENT_TYPE] ?? '';
  const generation = Number(headers[GENERATION] ?? 0);
  delete headers[EVENT_ID];
  delete headers[EVENT_TYPE];
  delete headers[GENERATION];
  const message: DeliveredMessage = {
    id,
    topic,
    key: record.key ?? '',
    type,
    value: {},
    headers,
    partition: record.partition,
    offset: Number(record.offset),
    acceptedAt: acceptedAtOf(Number(record.timestamp)),
    generation: Number.isSafeInteger(generation) ? generation : 0,
  };
  // A record another producer wrote may not be Herald's (see decode.ts).
  const value = decodeObject(record.value);
  if (typeof value === 'string') {
    message.malformed = { reason: `value ${value}`, raw: record.value ?? '' };
  } else {
    message.value = value;
  }
  return message;
}
