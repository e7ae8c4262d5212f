import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ParsedFormula } from '../../../src/domain/chemistry/formula.ts';
import { parseFormula } from '../../../src/domain/chemistry/formula.ts';
import { analyzeFormula, compareReportedWeight } from '../../../src/domain/chemistry/index.ts';
import {
  averageMass,
  chargeSuffix,
  composition,
  ELECTRON_MASS,
  hillFormula,
  monoisotopicMass,
  WEIGHT_TOLERANCE,
} from '../../../src/domain/chemistry/mass.ts';

function parsed(text: string): ParsedFormula {
  const result = parseFormula(text);
  if (!result.ok) assert.fail(`${text}: ${result.reason} at ${result.position}`);
  return result.formula;
}

function analysis(text: string) {
  const result = analyzeFormula(text);
  if (!result.ok) assert.fail(`${text}: ${result.reason} at ${result.position}`);
  return result;
}

const close = (actual: number, expected: number, epsilon: number, message?: string) =>
  assert.ok(Math.abs(actual - expected) <= epsilon, message ?? `${actual} ≉ ${expected}`);

test('average molar masses of common compounds match hand-computed IUPAC sums', () => {
  const expected: Array<[string, number]> = [
    ['H2O', 18.015],
    ['C6H12O6', 180.156],
    ['CuSO4·5H2O', 249.677],
    ['Ca(OH)2', 74.092],
    ['[Cu(NH3)4]SO4', 227.726],
    ['NaCl', 58.4398],
    ['Fe2(SO4)3', 399.858],
    ['C2H5OH', 46.069],
  ];
  for (const [formula, mass] of expected) {
    assert.equal(analysis(formula).averageMass, mass, formula);
  }
});

test('literature molar masses match within the reporting tolerance', () => {
  const literature: Array<[string, number]> = [
    ['H2O', 18.015],
    ['H2O', 18.02],
    ['C6H12O6', 180.16],
    ['CuSO4·5H2O', 249.68],
    ['Ca(OH)2', 74.09],
    ['[Cu(NH3)4]SO4', 227.74],
    ['NaCl', 58.44],
    ['C2H5OH', 46.07],
  ];
  for (const [formula, reported] of literature) {
    const comparison = compareReportedWeight(reported, analysis(formula).averageMass);
    assert.equal(comparison.matches, true, `${formula} ${reported}`);
  }
});

test('Hill notation puts C then H first when carbon is present', () => {
  assert.equal(analysis('C2H5OH').hill, 'C2H6O');
  assert.equal(analysis('CH3COOH').hill, 'C2H4O2');
  assert.equal(analysis('CHCl3').hill, 'CHCl3');
  assert.equal(analysis('NaHCO3').hill, 'CHNaO3');
  assert.equal(analysis('K4[Fe(CN)6]').hill, 'C6FeK4N6');
});

test('Hill notation is fully alphabetical without carbon', () => {
  assert.equal(analysis('NaCl').hill, 'ClNa');
  assert.equal(analysis('H2SO4').hill, 'H2O4S');
  assert.equal(analysis('CuSO4·5H2O').hill, 'CuH10O9S');
  assert.equal(analysis('Ca(OH)2').hill, 'CaH2O2');
  // Cobalt is not carbon.
  assert.equal(analysis('Co(OH)2').hill, 'CoH2O2');
});

test('Hill notation writes isotopes in brackets next to their element', () => {
  assert.equal(analysis('D2O').hill, '[2H]2O');
  assert.equal(analysis('CD3OD').hill, 'C[2H]4O');
  assert.equal(analysis('CH3[13C]H3').hill, 'C[13C]H6');
  assert.equal(analysis('CH3OD').hill, 'CH3[2H]O');
  // A labelled carbon alone still makes the formula organic.
  assert.equal(analysis('O[13C]H4').hill, '[13C]H4O');
});

test('Hill notation ends with a charge suffix that parses back', () => {
  assert.equal(analysis('NH4+').hill, 'H4N+');
  assert.equal(analysis('SO4^2-').hill, 'O4S^2-');
  assert.equal(analysis('[Fe(CN)6]4-').hill, 'C6FeN6^4-');
  assert.equal(chargeSuffix(0), '');
  assert.equal(chargeSuffix(-1), '-');
  assert.equal(chargeSuffix(3), '^3+');
});

test('composition is keyed by label in Hill order', () => {
  const { composition: atoms } = analysis('[Cu(NH3)4]SO4');
  assert.deepEqual(atoms, { Cu: 1, H: 12, N: 4, O: 4, S: 1 });
  assert.deepEqual(Object.keys(atoms), ['Cu', 'H', 'N', 'O', 'S']);
  assert.deepEqual(Object.keys(analysis('CD3OD').composition), ['C', '[2H]', 'O']);
});

test('monoisotopic mass uses the most abundant isotope of each element', () => {
  assert.equal(analysis('H2O').monoisotopicMass, 18.010565);
  assert.equal(analysis('C6H12O6').monoisotopicMass, 180.063388);
  assert.equal(analysis('NaCl').monoisotopicMass, 57.958622);
});

test('deuterated water uses the exact mass of 2H in both masses', () => {
  const heavy = analysis('D2O');
  assert.equal(heavy.monoisotopicMass, 20.023118);
  assert.equal(heavy.averageMass, 20.0272);
  assert.deepEqual(analysis('[2H]2O'), heavy);
  assert.deepEqual(analysis('^2H2O'), heavy);
});

test('monoisotopic mass of an ion is corrected by one electron mass per charge', () => {
  const sulfate = analysis('SO4^2-');
  assert.equal(sulfate.charge, -2);
  assert.equal(sulfate.monoisotopicMass, 95.952827);
  close(
    monoisotopicMass(parsed('SO4^2-')) - monoisotopicMass(parsed('SO4')),
    2 * ELECTRON_MASS,
    1e-12,
  );
  close(monoisotopicMass(parsed('NH4')) - monoisotopicMass(parsed('NH4+')), ELECTRON_MASS, 1e-12);
});

test('average molar mass ignores the charge', () => {
  assert.equal(averageMass(parsed('SO4^2-')), averageMass(parsed('SO4')));
  assert.equal(analysis('SO4^2-').averageMass, 96.056);
  assert.equal(averageMass(parsed('NH4+')), averageMass(parsed('NH4')));
});

test('bracketed elements contribute their mass number to the molar mass', () => {
  assert.equal(analysis('TcO4-').averageMass, 97 + 4 * 15.999);
});

test('analyzeFormula rounds average mass to 4 and monoisotopic mass to 6 decimals', () => {
  for (const formula of ['C6H12O6', 'K4[Fe(CN)6]·3H2O', 'C55H72MgN4O5', 'UO2(NO3)2·6H2O']) {
    const { averageMass: average, monoisotopicMass: mono } = analysis(formula);
    assert.equal(Math.round(average * 1e4) / 1e4, average, formula);
    assert.equal(Math.round(mono * 1e6) / 1e6, mono, formula);
    close(average, averageMass(parsed(formula)), 5e-5, formula);
    close(mono, monoisotopicMass(parsed(formula)), 5e-7, formula);
  }
});

test('analyzeFormula passes parser rejections through with reason and position', () => {
  assert.deepEqual(analyzeFormula('Xx'), {
    ok: false,
    reason: "unknown element 'Xx'",
    position: 0,
  });
  assert.deepEqual(analyzeFormula(''), { ok: false, reason: 'formula is empty', position: 0 });
});

test('compareReportedWeight accepts the exact value and rounding to two decimals', () => {
  const exact = compareReportedWeight(18.015, 18.015);
  assert.deepEqual(exact, {
    matches: true,
    difference: 0,
    relativeDifference: 0,
    tolerance: 0.001 * 18.015,
  });
  assert.equal(compareReportedWeight(18.02, 18.015).matches, true);
});

test('compareReportedWeight rejects a value off by more than the tolerance', () => {
  const water = compareReportedWeight(20, 18.015);
  assert.equal(water.matches, false);
  close(water.difference, 1.985, 1e-9);
  close(water.relativeDifference, 1.985 / 18.015, 1e-12);
  // Missing hydrate water is a real error, not rounding.
  assert.equal(compareReportedWeight(159.61, 249.677).matches, false);
});

test('compareReportedWeight tolerance is max(0.01 absolute, 0.1 % relative)', () => {
  assert.equal(WEIGHT_TOLERANCE.absolute, 0.01);
  assert.equal(WEIGHT_TOLERANCE.relative, 0.001);
  // Small molecule: the absolute floor applies, inclusive at the boundary.
  assert.equal(compareReportedWeight(2.016, 2.016).tolerance, 0.01);
  assert.equal(compareReportedWeight(2.026, 2.016).matches, true);
  assert.equal(compareReportedWeight(2.027, 2.016).matches, false);
  // Large molecule: the relative bound applies.
  assert.equal(compareReportedWeight(1000, 1000).tolerance, 1);
  assert.equal(compareReportedWeight(1000.9, 1000).matches, true);
  assert.equal(compareReportedWeight(998.9, 1000).matches, false);
});

test('compareReportedWeight reports a signed difference', () => {
  const low = compareReportedWeight(18.01, 18.015);
  assert.ok(low.difference < 0);
  assert.ok(low.relativeDifference < 0);
  assert.ok(compareReportedWeight(18.02, 18.015).difference > 0);
});

test('compareReportedWeight throws RangeError on non-finite or non-positive inputs', () => {
  assert.throws(() => compareReportedWeight(Number.NaN, 18.015), RangeError);
  assert.throws(() => compareReportedWeight(Number.POSITIVE_INFINITY, 18.015), RangeError);
  assert.throws(() => compareReportedWeight(18, 0), RangeError);
  assert.throws(() => compareReportedWeight(18, Number.NaN), RangeError);
});

test('property: mass of A·nB equals mass(A) + n·mass(B)', () => {
  const cases: Array<[string, number, string]> = [
    ['CuSO4', 5, 'H2O'],
    ['CaCl2', 2, 'H2O'],
    ['K4[Fe(CN)6]', 3, 'H2O'],
    ['C6H12O6', 1, 'NaCl'],
    ['[13C]H4', 7, 'D2O'],
  ];
  for (const [a, n, b] of cases) {
    const adduct = parsed(`${a}·${n}${b}`);
    close(averageMass(adduct), averageMass(parsed(a)) + n * averageMass(parsed(b)), 1e-9, a);
    close(
      monoisotopicMass(adduct),
      monoisotopicMass(parsed(a)) + n * monoisotopicMass(parsed(b)),
      1e-9,
      a,
    );
  }
});

test('property: a group multiplier equals repeating the group', () => {
  for (const [grouped, repeated] of [
    ['Ca(OH)2', 'CaOHOH'],
    ['Fe2(SO4)3', 'Fe2SO4SO4SO4'],
    ['[Cu(NH3)4]SO4', 'CuNH3NH3NH3NH3SO4'],
  ] as const) {
    assert.deepEqual(composition(parsed(grouped)), composition(parsed(repeated)));
    assert.equal(averageMass(parsed(grouped)), averageMass(parsed(repeated)));
  }
});

test('property: Hill form re-parses to the same composition, charge and Hill form', () => {
  const formulas = [
    'H2O',
    'C2H5OH',
    'CuSO4·5H2O',
    '[Cu(NH3)4]SO4',
    'NH4+',
    'SO4^2-',
    '[Fe(CN)6]4-',
    'Fe^3+',
    'CD3OD',
    'CH3[13C]OOH',
    '^13CH3[2H]',
    'T2O',
    'UO2(NO3)2·6H2O',
    'O2-',
    'C60',
  ];
  for (const formula of formulas) {
    const first = parsed(formula);
    const hill = hillFormula(first);
    const again = parsed(hill);
    assert.deepEqual(composition(again), composition(first), `${formula} → ${hill}`);
    assert.equal(again.charge, first.charge, `${formula} → ${hill}`);
    assert.equal(hillFormula(again), hill, `${formula} → ${hill}`);
  }
});

test('property: atom order does not change composition, Hill form or mass', () => {
  for (const [a, b] of [
    ['H2O', 'OH2'],
    ['C2H5OH', 'HOC2H5'],
    ['NaCl', 'ClNa'],
    ['CH3COOH', 'HOOCCH3'],
  ] as const) {
    assert.deepEqual(analysis(a), analysis(b), `${a} vs ${b}`);
  }
});

test('known compounds match their literature molar masses (issue 6 table)', () => {
  const table: Array<[string, string, number]> = [
    ['water', 'H2O', 18.015],
    ['caffeine', 'C8H10N4O2', 194.19],
    ['copper(II) sulfate pentahydrate', 'CuSO4·5H2O', 249.68],
    ['aspirin', 'C9H8O4', 180.16],
    ['glucose', 'C6H12O6', 180.16],
    ['calcium hydroxide', 'Ca(OH)2', 74.09],
    ['sodium chloride', 'NaCl', 58.44],
    ['paracetamol', 'C8H9NO2', 151.16],
    ['sulfuric acid', 'H2SO4', 98.08],
    ['benzene', 'C6H6', 78.11],
  ];
  for (const [name, formula, literature] of table) {
    const computed = analysis(formula).averageMass;
    assert.equal(compareReportedWeight(literature, computed).matches, true, `${name} ${computed}`);
    close(computed, literature, 0.01, `${name}: ${computed} vs ${literature}`);
  }
});
