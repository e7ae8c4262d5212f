import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../../helpers/eventually.ts';
import { startFakeOpenAi } from '../../helpers/fake-openai.ts';
import { getJson, postJson, startTestPlatform } from '../../helpers/platform.ts';

interface Run {
  id: number;
  agent: string;
  model: string;
  status: string;
  needs_reenrichment: boolean;
  reenrichment_of: number | null;
  error_code: string | null;
  error: string | null;
  raw_output: string | null;
  tokens: { total: number } | null;
  output: { common_name: { value: string | null }; molar_mass: number } | null;
}

interface Molecule {
  molecule_id: string;
  latest_event: { event_id: string } | null;
  chemistry: Record<string, unknown> | null;
  agent_result: {
    agent: string;
    status: string;
    needs_reenrichment: boolean;
    answer: { common_name: { value: string | null }; molar_mass: number };
    structure: Record<string, unknown> | null;
  } | null;
  runs: Run[];
}

const CAFFEINE = { formula: 'C8H10N4O2', weight: 194.19 };

async function submit(url: string, moleculeId: string, data: Record<string, unknown> = CAFFEINE) {
  const sent = await postJson(`${url}/api/v1/events/chemical`, {
    molecule_id: moleculeId,
    researcher: 'Dr. Test',
    data,
  });
  assert.equal(sent.status, 202);
  return String(sent.body.event_id);
}

/** The molecule once it has `runs` runs (and its pipeline event, when `processed`). */
async function moleculeWithRuns(url: string, id: string, runs: number): Promise<Molecule> {
  return eventually(
    async () => {
      const { status, body } = await getJson(`${url}/api/v1/molecules/${id}`);
      const molecule = body as unknown as Molecule;
      // The agents' group and the processors' are independent: wait for both.
      return status === 200 && molecule.runs.length >= runs && molecule.latest_event !== null
        ? molecule
        : undefined;
    },
    { message: `${id} to have ${runs} agent runs and its event processed` },
  );
}

const fastLlm = (url: string, extra: Record<string, string> = {}) => ({
  LLM_BASE_URL: url,
  LLM_MODEL: 'fake-model',
  LLM_RETRY_BASE_MS: '5',
  LLM_RETRY_MAX_MS: '20',
  LLM_TIMEOUT_MS: '2000',
  AGENTS_REENRICH_INTERVAL_MS: '0',
  ...extra,
});

test('without an LLM configured the offline agent answers, and the molecule shows facts and run', async (t) => {
  const { url } = await startTestPlatform(t);
  await submit(url, 'mol-caffeine');
  const molecule = await moleculeWithRuns(url, 'mol-caffeine', 1);
  assert.equal(molecule.chemistry?.hill_formula, 'C8H10N4O2');
  assert.equal(molecule.chemistry?.weight_matches, true);
  assert.equal(molecule.agent_result?.agent, 'offline');
  assert.equal(molecule.agent_result?.status, 'offline');
  assert.equal(molecule.agent_result?.answer.common_name.value, 'caffeine');
  assert.equal(molecule.agent_result?.answer.molar_mass, 194.194);
  assert.equal(molecule.agent_result?.needs_reenrichment, false);
});

test('an LLM answer is recorded with its model and tokens, and the same molecule later comes from the cache', async (t) => {
  const fake = await startFakeOpenAi(t);
  const { url } = await startTestPlatform(t, fastLlm(fake.url));
  await submit(url, 'mol-a');
  const first = await moleculeWithRuns(url, 'mol-a', 1);
  const [run] = first.runs;
  assert.equal(run?.status, 'succeeded');
  assert.equal(run?.agent, 'llm');
  assert.equal(run?.model, 'fake-model-2025');
  assert.equal(run?.tokens?.total, 200);
  assert.equal(first.agent_result?.answer.common_name.value, 'fake name of C8H10N4O2');

  await submit(url, 'mol-b');
  const second = await moleculeWithRuns(url, 'mol-b', 1);
  assert.equal(second.runs[0]?.status, 'cached');
  assert.equal(second.agent_result?.answer.common_name.value, 'fake name of C8H10N4O2');
  assert.equal(fake.requests.length, 1, 'the cached answer cost no call');
});

test('an unavailable provider: the offline agent answers, the run is marked, and a later pass re-enriches it', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.setDefault({ kind: 'status', status: 503 });
  const platform = await startTestPlatform(
    t,
    fastLlm(fake.url, {
      LLM_MAX_RETRIES: '1',
      LLM_BREAKER_FAILURES: '2',
      // Long enough that the circuit is still open when the first pass runs on a slow machine.
      LLM_BREAKER_COOLDOWN_MS: '1500',
    }),
  );
  await submit(platform.url, 'mol-down');
  const degraded = await moleculeWithRuns(platform.url, 'mol-down', 1);
  const [fallback] = degraded.runs;
  assert.equal(fallback?.status, 'fallback');
  assert.equal(fallback?.agent, 'offline');
  assert.equal(fallback?.needs_reenrichment, true);
  assert.equal(fallback?.error_code, 'LLM_SERVER');
  assert.equal(degraded.agent_result?.answer.common_name.value, 'caffeine');

  // While the circuit is open the pass does not call the provider.
  const calls = fake.requests.length;
  assert.equal(await platform.agents?.reenrich(), 0);
  assert.equal(fake.requests.length, calls);

  fake.setDefault({ kind: 'answer' });
  await new Promise((resolve) => setTimeout(resolve, 1600));
  assert.equal(await platform.agents?.reenrich(), 1);
  const healed = await moleculeWithRuns(platform.url, 'mol-down', 2);
  const [latest, old] = healed.runs;
  assert.equal(latest?.status, 'succeeded');
  assert.equal(latest?.reenrichment_of, fallback?.id);
  assert.equal(old?.needs_reenrichment, false);
  assert.equal(healed.agent_result?.agent, 'llm');
  assert.equal(await platform.agents?.reenrich(), 0, 'nothing is left to re-enrich');
});

test('an answer with a wrong molar mass is rejected and recorded, and the offline agent answers', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.setDefault({ kind: 'answer', molarMass: 180.16 });
  const { url } = await startTestPlatform(t, fastLlm(fake.url));
  await submit(url, 'mol-wrong');
  const molecule = await moleculeWithRuns(url, 'mol-wrong', 2);
  const [fallback, rejected] = molecule.runs;
  assert.equal(rejected?.status, 'rejected');
  assert.equal(rejected?.error_code, 'LLM_REJECTED');
  assert.match(rejected?.error ?? '', /disagrees with the computed 194\.194/);
  assert.match(rejected?.raw_output ?? '', /180\.16/);
  assert.equal(fallback?.status, 'fallback');
  assert.equal(fallback?.needs_reenrichment, false, 'a wrong answer is not asked again');
  assert.equal(molecule.agent_result?.answer.molar_mass, 194.194);

  const { body } = await getJson(`${url}/api/v1/agents/runs?status=rejected`);
  assert.equal((body.runs as Run[]).length, 1);
});

test('a hanging provider does not hold up event processing', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.setDefault({ kind: 'hang' });
  const { url } = await startTestPlatform(t, fastLlm(fake.url, { LLM_TIMEOUT_MS: '20000' }));
  const id = await submit(url, 'mol-slow');
  const record = await eventually(
    async () => {
      const { body } = await getJson(`${url}/api/v1/events/${id}`);
      return body.status === 'processed' ? body : undefined;
    },
    { timeoutMs: 5000, message: 'the event to be processed' },
  );
  assert.equal(record.status, 'processed');
  const { body } = await getJson(`${url}/api/v1/agents/runs?molecule_id=mol-slow`);
  assert.deepEqual(body.runs, [], 'the agent is still waiting for the provider');
  assert.equal(fake.requests.length, 1);
});

test('a SMILES structure is described by RDKit and cross-checked with the formula', async (t) => {
  const { url } = await startTestPlatform(t);
  await submit(url, 'mol-smiles', { ...CAFFEINE, smiles: 'CN1C=NC2=C1C(=O)N(C(=O)N2C)C' });
  const molecule = await moleculeWithRuns(url, 'mol-smiles', 1);
  const structure = molecule.agent_result?.structure;
  assert.equal(structure?.inchiKey, 'RYYVLZVUVIJVGH-UHFFFAOYSA-N');
  assert.equal(structure?.canonicalSmiles, 'Cn1c(=O)c2c(ncn2C)n(C)c1=O');
  assert.equal(structure?.formulaMatches, true);
  assert.equal(structure?.lipinskiViolations, 0);
  assert.equal(structure?.hbd, 0);
});

test('with AGENTS_ENABLED=false no agent runs', async (t) => {
  const platform = await startTestPlatform(t, { AGENTS_ENABLED: 'false' });
  assert.equal(platform.agents, undefined);
  const id = await submit(platform.url, 'mol-quiet');
  await eventually(async () => {
    const { body } = await getJson(`${platform.url}/api/v1/events/${id}`);
    return body.status === 'processed' ? body : undefined;
  });
  const { body } = await getJson(`${platform.url}/api/v1/agents/runs`);
  assert.deepEqual(body.runs, []);
});
