import { routeEvent, type Topic } from '../domain/events.ts';
import { uuidv7 } from '../domain/ids.ts';
import { SCHEMA_CHECKED_HEADER } from '../domain/schemas/model.ts';
import type { Metrics } from '../observability/metrics.ts';
import { SpanKind, traceBatch } from '../observability/tracing.ts';
import type { Broker, OutgoingMessage, PublishResult } from '../ports/broker.ts';
import { GroupCommitter } from './group-commit.ts';

export interface Submission {
  topic: Topic;
  /** The event as the producer sent it (already schema-validated). */
  body: Record<string, unknown>;
  /** Id from the `Idempotency-Key` header, used when the body has no `id`. */
  idempotencyKey?: string;
  correlationId: string;
  traceparent?: string;
  /** Which schema version the API checked the event against (event contracts), if any. */
  schemaChecked?: string;
}

export interface Accepted {
  id: string;
  topic: Topic;
  duplicate: boolean;
}

/**
 * Accepting events: give each an id, route it to its topic and key, and publish it durably.
 * Concurrent submissions share one publish (group commit); a submission resolves only once
 * its events are durable in the broker.
 */
export class IngestService {
  readonly #broker: Broker;
  readonly #metrics: Metrics;
  readonly #committer: GroupCommitter<OutgoingMessage, PublishResult>;

  constructor(
    broker: Broker,
    metrics: Metrics,
    options: { maxBatch: number; maxInFlight: number },
  ) {
    this.#broker = broker;
    this.#metrics = metrics;
    this.#committer = new GroupCommitter((messages) => {
      this.#metrics.publishBatchSize.observe(messages.length);
      return traceBatch(
        messages,
        'publish',
        { 'messaging.operation.type': 'send', 'messaging.system': this.#broker.name },
        SpanKind.PRODUCER,
      ).batch('publish', () => this.#broker.publish(messages));
    }, options);
  }

  async accept(submissions: readonly Submission[]): Promise<Accepted[]> {
    const messages = submissions.map(toMessage);
    const results = await this.#committer.submit(messages);
    return results.map((result, i) => {
      const topic = submissions[i]?.topic ?? 'events';
      const duplicate = result.status === 'duplicate';
      if (duplicate) this.#metrics.eventsDuplicate.inc({ topic });
      else {
        this.#metrics.eventsAccepted.inc({
          topic,
          type: this.#metrics.eventType(messages[i]?.type ?? ''),
          broker: this.#broker.name,
        });
      }
      return { id: result.id, topic, duplicate };
    });
  }

  /** Events waiting for the next group commit (a load signal). */
  get pending(): number {
    return this.#committer.pendingItems;
  }

  drained(): Promise<void> {
    return this.#committer.drained();
  }
}

function toMessage(submission: Submission): OutgoingMessage {
  const { body, topic } = submission;
  const id = typeof body.id === 'string' ? body.id : (submission.idempotencyKey ?? uuidv7());
  const headers: Record<string, string> = { correlation_id: submission.correlationId };
  if (submission.traceparent !== undefined) headers.traceparent = submission.traceparent;
  if (submission.schemaChecked !== undefined) {
    headers[SCHEMA_CHECKED_HEADER] = submission.schemaChecked;
  }
  return { id, ...routeEvent(topic, body), value: body, headers };
}
