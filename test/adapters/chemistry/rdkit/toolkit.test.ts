import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RdkitToolkit, StructureError } from '../../../../src/adapters/chemistry/rdkit/toolkit.ts';

const toolkit = new RdkitToolkit();

test('caffeine from SMILES: canonical SMILES, InChIKey, formula and descriptors', async () => {
  const d = await toolkit.describe('CN1C=NC2=C1C(=O)N(C(=O)N2C)C', 'C8H10N4O2');
  assert.equal(d.canonicalSmiles, 'Cn1c(=O)c2c(ncn2C)n(C)c1=O');
  assert.equal(d.inchiKey, 'RYYVLZVUVIJVGH-UHFFFAOYSA-N');
  assert.equal(d.formula, 'C8H10N4O2');
  assert.equal(d.formulaMatches, true);
  assert.equal(d.averageMass, 194.194);
  assert.equal(d.tpsa, 61.82);
  assert.equal(d.hbd, 0);
  assert.equal(d.rotatableBonds, 0);
  assert.equal(d.lipinskiViolations, 0);
});

test('a structure that does not match the submitted formula is flagged', async () => {
  const d = await toolkit.describe('CCO', 'C8H10N4O2');
  assert.equal(d.formula, 'C2H6O');
  assert.equal(d.formulaMatches, false);
});

test('Lipinski violations are counted for a large lipophilic molecule', async () => {
  // A C40 alkane breaks two rules: molar mass over 500 and logP over 5.
  const d = await toolkit.describe('C'.repeat(40), 'C40H82');
  assert.equal(d.formulaMatches, true);
  assert.equal(d.lipinskiViolations, 2);
});

test('unreadable SMILES is refused with a reason', async () => {
  await assert.rejects(toolkit.describe('C1CC(', 'C3H6'), StructureError);
});
