import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OfflineChemistryAgent } from '../../../../src/adapters/llm/offline/agent.ts';
import { KNOWN_COMPOUNDS } from '../../../../src/adapters/llm/offline/known-compounds.ts';
import { acceptAnswer } from '../../../../src/app/agents/answer.ts';
import { moleculeFacts } from '../../../../src/app/agents/facts.ts';
import { analyzeFormula } from '../../../../src/domain/chemistry/index.ts';
import type { MoleculeFacts } from '../../../../src/ports/llm.ts';

async function facts(formula: string): Promise<MoleculeFacts> {
  const result = await moleculeFacts({ molecule_id: 'm', data: { formula } }, undefined);
  assert.ok(result, formula);
  return result;
}

const agent = new OfflineChemistryAgent();

test('every known compound is keyed by its Hill formula', () => {
  for (const key of KNOWN_COMPOUNDS.keys()) {
    const analysis = analyzeFormula(key);
    assert.ok(analysis.ok && analysis.hill === key, `${key} is not in Hill form`);
  }
});

test('well-known formulas get their common name, however they are written', async () => {
  const cases: Array<[string, string, string]> = [
    ['C8H10N4O2', 'caffeine', 'solid'],
    ['H2O', 'water', 'liquid'],
    ['CuSO4·5H2O', 'copper(II) sulfate pentahydrate', 'solid'],
    ['C2H5OH', 'ethanol', 'liquid'],
    ['NaCl', 'sodium chloride', 'solid'],
  ];
  for (const [formula, name, state] of cases) {
    const { answer } = await agent.describe(await facts(formula));
    assert.equal(answer.common_name.value, name, formula);
    assert.equal(answer.physical_state.value, state, formula);
    assert.ok(answer.common_name.confidence >= 0.9);
  }
});

test('unknown formulas get a class from their elements with a low confidence and no name', async () => {
  const cases: Array<[string, RegExp]> = [
    ['C10H22', /hydrocarbon/],
    ['C7H5N3O6', /nitrogen-containing/],
    ['Fe2(SO4)3', /inorganic salt/],
    ['[Cu(NH3)4]SO4', /coordination/],
    ['MgSO4·7H2O', /hydrated salt/],
    ['SO4^2-', /anion/],
  ];
  for (const [formula, expected] of cases) {
    const { answer } = await agent.describe(await facts(formula));
    assert.match(answer.compound_class.value, expected, formula);
    assert.equal(answer.common_name.value, null, formula);
    assert.ok(answer.compound_class.confidence < 0.95, formula);
  }
});

test('toxic elements are named as hazards', async () => {
  const { answer } = await agent.describe(await facts('Pb(NO3)2'));
  assert.match(answer.hazards.map((h) => h.value).join(), /lead/);
});

test("the offline agent's answers pass the same schema and cross-check as the LLM's", async () => {
  for (const formula of ['C8H10N4O2', 'CuSO4·5H2O', 'C10H22', '[13C]H4', 'SO4^2-']) {
    const f = await facts(formula);
    const { answer } = await agent.describe(f);
    assert.deepEqual(acceptAnswer(JSON.stringify(answer), f), answer, formula);
  }
});
