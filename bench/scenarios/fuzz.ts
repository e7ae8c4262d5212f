/**
 * Fuzzing, the long run: ≥ 100k requests generated with fast-check from the OpenAPI document the
 * running API serves (test/helpers/openapi-fuzz.ts: valid and mutated bodies, hostile strings,
 * invalid UTF-8, truncated, deep, oversized and polluted JSON, wrong content types, batches at
 * and past the limit, hostile path and query parameters), sent by 16 concurrent clients to
 * `herald api` + `herald worker` on server PostgreSQL. Every answer must be a 2xx or a 4xx
 * problem+json that the served document lists (status, content type, body schema); a 5xx, a
 * non-problem 4xx, an undocumented answer, a dropped connection or a server that stops
 * answering is a failure, listed with the request that caused it (seed recorded).
 */
import fc from 'fast-check';
import {
  anyRequest,
  describeRequest,
  type FuzzLimits,
  type FuzzRequest,
  operationsOf,
  sendFuzz,
  verdict,
} from '../../test/helpers/openapi-fuzz.ts';
import { OpenApiDocument } from '../../test/helpers/openapi-responses.ts';
import { startTarget } from '../lib/herald.ts';
import { type Context, fmt, type Scenario, type ScenarioResult } from '../lib/report.ts';

const LIMITS: FuzzLimits = { maxBodyBytes: 65_536, batchMaxEvents: 50, maxJsonDepth: 16 };
const CLIENTS = 16;
const CHUNK = 2000;

export const fuzz: Scenario = {
  name: 'fuzz',
  title: 'Fuzzing every operation from the OpenAPI document',
  async run(context: Context): Promise<ScenarioResult> {
    const total = context.quick ? 2000 : 100_000;
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    const target = await startTarget({
      database: 'postgres',
      topology: 'api+worker',
      label: 'herald api + worker · postgres',
      env: {
        MAX_BODY_BYTES: String(LIMITS.maxBodyBytes),
        BATCH_MAX_EVENTS: String(LIMITS.batchMaxEvents),
        MAX_JSON_DEPTH: String(LIMITS.maxJsonDepth),
        // Huge generated bodies stall the loop on purpose; shedding them as 503 would hide
        // how the routes answer (overload has its own fault test).
        OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
      },
    });
    const byClass = new Map<string, number>();
    const byStatus = new Map<number, number>();
    const failures: string[] = [];
    let sent = 0;
    const started = performance.now();
    try {
      const document = (await (await fetch(`${target.url}/docs/json`)).json()) as Record<
        string,
        unknown
      >;
      const operations = operationsOf(document);
      const checker = new OpenApiDocument(document);
      const requests = anyRequest(operations, LIMITS);
      for (let chunk = 0; sent < total; chunk++) {
        const batch: FuzzRequest[] = fc.sample(requests, {
          numRuns: Math.min(CHUNK, total - sent),
          seed: seed + chunk,
        });
        let next = 0;
        await Promise.all(
          Array.from({ length: CLIENTS }, async () => {
            for (let i = next++; i < batch.length; i = next++) {
              const request = batch[i] as FuzzRequest;
              let problem: string | undefined;
              try {
                const answer = await sendFuzz(target.url, request);
                byStatus.set(answer.status, (byStatus.get(answer.status) ?? 0) + 1);
                problem = verdict(answer, checker);
              } catch (error) {
                problem = `no answer: ${String(error)}`;
              }
              const kind = problem === undefined ? 'ok' : 'failure';
              byClass.set(kind, (byClass.get(kind) ?? 0) + 1);
              if (problem !== undefined && failures.length < 20) {
                failures.push(
                  `${problem.slice(0, 300)} ← ${describeRequest(request).slice(0, 500)}`,
                );
              }
            }
          }),
        );
        sent += batch.length;
        if (chunk % 10 === 0)
          context.log(`fuzz: ${sent} requests, ${byClass.get('failure') ?? 0} failures`);
      }
      const health = await fetch(`${target.url}/health/ready`);
      if (health.status !== 200)
        failures.push(`/health/ready answered ${health.status} after the run`);
    } finally {
      await target.stop();
    }
    const seconds = (performance.now() - started) / 1000;
    const statuses = [...byStatus.entries()].sort(([a], [b]) => a - b);
    const failed = byClass.get('failure') ?? 0;
    const result: ScenarioResult = {
      config: { total, clients: CLIENTS, seed, limits: LIMITS, env: target.env },
      figures: {
        requests: sent,
        seconds,
        requests_per_s: sent / seconds,
        failures: failed,
        statuses: Object.fromEntries(statuses),
        first_failures: failures,
      },
      tables: [
        {
          title: `${fmt(sent)} generated requests in ${fmt(seconds)} s (seed ${seed})`,
          columns: ['status', 'answers', 'share'],
          rows: statuses.map(([status, n]) => [
            String(status),
            fmt(n),
            `${fmt((100 * n) / sent)} %`,
          ]),
        },
      ],
      goals: [
        {
          goal: 'bad input never gets a 5xx; every 4xx is problem+json; the server stays up',
          target: '0 failures in ≥ 100k requests',
          measured: `${fmt(failed)} failures in ${fmt(sent)}`,
          met: context.quick ? undefined : failed === 0 && sent >= 100_000 && failures.length === 0,
        },
      ],
      notes: [
        'Requests come from test/helpers/openapi-fuzz.ts, derived from /docs/json at run time: every operation with a body or parameters.',
        `Replay a run with FUZZ_SEED=${seed} npm run bench -- --scenario fuzz.`,
        ...failures.map((f) => `failure: ${f}`),
      ],
    };
    if (failures.length > 0) {
      context.log(`fuzz: ${failures.length} failures, first: ${failures[0]}`);
    }
    return result;
  },
};
