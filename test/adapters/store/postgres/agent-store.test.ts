import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresAgentStore } from '../../../../src/adapters/store/postgres/agent-store.ts';
import { moleculeFacts } from '../../../../src/app/agents/facts.ts';
import type { NewAgentRun } from '../../../../src/ports/agent-store.ts';
import type { ChemistryAnswer } from '../../../../src/ports/llm.ts';
import { describeEachDatabase } from '../../../helpers/databases.ts';

const answer: ChemistryAnswer = {
  common_name: { value: 'water', confidence: 0.9 },
  compound_class: { value: 'inorganic oxide', confidence: 0.9 },
  physical_state: { value: 'liquid', confidence: 0.9 },
  hazards: [],
  notable_properties: [],
  molar_mass: 18.015,
};

async function run(overrides: Partial<NewAgentRun> = {}): Promise<NewAgentRun> {
  const input = await moleculeFacts({ molecule_id: 'mol-w', data: { formula: 'H2O' } }, undefined);
  assert.ok(input);
  return {
    eventId: 'evt-1',
    moleculeId: 'mol-w',
    agent: 'offline',
    model: 'herald-offline-1',
    status: 'fallback',
    needsReenrichment: true,
    cacheKey: 'formula:H2O',
    input,
    output: answer,
    errorCode: 'LLM_SERVER',
    error: '503',
    latencyMs: 3.7,
    ...overrides,
  };
}

describeEachDatabase('PostgresAgentStore', (factory) => {
  test('runs are recorded and listed newest first, filtered by molecule, status and agent', async (t) => {
    const store = new PostgresAgentStore(await factory.open(t));
    const first = await store.recordRun(await run());
    const second = await store.recordRun(
      await run({
        eventId: 'evt-2',
        agent: 'llm',
        model: 'gpt',
        status: 'rejected',
        needsReenrichment: false,
        output: null,
        rawOutput: '{"molar_mass": 20}',
        usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
      }),
    );
    assert.ok(second > first);
    const all = await store.listRuns({ limit: 10 });
    assert.deepEqual(
      all.map((r) => r.id),
      [second, first],
    );
    assert.equal(all[0]?.usage?.totalTokens, 15);
    assert.equal(all[0]?.rawOutput, '{"molar_mass": 20}');
    assert.equal(all[1]?.latencyMs, 4);
    assert.deepEqual(all[1]?.output, answer);
    assert.equal((await store.listRuns({ status: 'rejected', limit: 10 })).length, 1);
    assert.equal((await store.listRuns({ agent: 'offline', limit: 10 })).length, 1);
    assert.equal((await store.listRuns({ moleculeId: 'other', limit: 10 })).length, 0);
    assert.deepEqual([...(await store.answeredEvents(['evt-1', 'evt-2', 'evt-3']))], ['evt-1']);
  });

  test('answers are cached per key and model, the latest kept', async (t) => {
    const store = new PostgresAgentStore(await factory.open(t));
    assert.equal(await store.cachedAnswer('formula:H2O', 'gpt'), undefined);
    await store.cacheAnswer('formula:H2O', 'gpt', 'llm', answer, 1);
    const renamed = { ...answer, common_name: { value: 'dihydrogen monoxide', confidence: 0.5 } };
    await store.cacheAnswer('formula:H2O', 'gpt', 'llm', renamed, 2);
    assert.deepEqual(await store.cachedAnswer('formula:H2O', 'gpt'), renamed);
    assert.equal(await store.cachedAnswer('formula:H2O', 'other-model'), undefined);
  });

  test('runs marked for re-enrichment are pending until marked done', async (t) => {
    const store = new PostgresAgentStore(await factory.open(t));
    const id = await store.recordRun(await run());
    await store.recordRun(await run({ eventId: 'evt-2', needsReenrichment: false }));
    assert.deepEqual(
      (await store.pendingReenrichment(10)).map((r) => r.id),
      [id],
    );
    await store.markReenrichment(id, false);
    const [still] = await store.pendingReenrichment(10);
    assert.equal(still?.reenrichmentAttempts, 1);
    await store.markReenrichment(id, true);
    assert.deepEqual(await store.pendingReenrichment(10), []);
  });

  test('a molecule is its latest answering run and its runs; unknown molecules are undefined', async (t) => {
    const store = new PostgresAgentStore(await factory.open(t));
    assert.equal(await store.molecule('mol-w', 10), undefined);
    const answered = await store.recordRun(await run());
    await store.recordRun(await run({ status: 'rejected', agent: 'llm', output: null }));
    const molecule = await store.molecule('mol-w', 10);
    assert.equal(molecule?.latestResult?.id, answered, 'a rejected run is not the answer');
    assert.equal(molecule?.runs.length, 2);
    assert.equal(molecule?.latestEvent, null);
  });
});
