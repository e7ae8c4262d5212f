import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ELEMENTS, getElement, getIsotope } from '../../../src/domain/chemistry/elements.ts';
import type { ParsedFormula } from '../../../src/domain/chemistry/formula.ts';
import {
  MAX_ATOMS,
  MAX_FORMULA_LENGTH,
  parseFormula,
} from '../../../src/domain/chemistry/formula.ts';

function parsed(text: string): ParsedFormula {
  const result = parseFormula(text);
  if (!result.ok) assert.fail(`${text}: ${result.reason} at ${result.position}`);
  return result.formula;
}

function counts(text: string): Record<string, number> {
  return Object.fromEntries(parsed(text).atoms.map((atom) => [atom.label, atom.count]));
}

function rejection(text: string): { reason: string; position: number } {
  const result = parseFormula(text);
  if (result.ok) assert.fail(`${text} should be rejected`);
  return { reason: result.reason, position: result.position };
}

test('element table covers H..Og with consecutive atomic numbers and unique symbols', () => {
  assert.equal(ELEMENTS.length, 118);
  assert.equal(ELEMENTS[0]?.symbol, 'H');
  assert.equal(ELEMENTS[117]?.symbol, 'Og');
  for (const [index, element] of ELEMENTS.entries()) {
    assert.equal(element.atomicNumber, index + 1);
  }
  assert.equal(new Set(ELEMENTS.map((element) => element.symbol)).size, 118);
});

test('element table carries IUPAC conventional weights and NIST monoisotopic masses', () => {
  const expected: Array<[string, number, number]> = [
    ['H', 1.008, 1.00782503223],
    ['C', 12.011, 12],
    ['N', 14.007, 14.00307400443],
    ['O', 15.999, 15.99491461957],
    ['S', 32.06, 31.9720711744],
    ['Cl', 35.45, 34.968852682],
    ['Cu', 63.546, 62.92959772],
    ['Na', 22.98976928, 22.989769282],
    ['Ca', 40.078, 39.962590863],
    ['Fe', 55.845, 55.93493633],
  ];
  for (const [symbol, weight, mono] of expected) {
    assert.equal(getElement(symbol)?.atomicWeight, weight, symbol);
    assert.equal(getElement(symbol)?.monoisotopicMass, mono, symbol);
    assert.equal(getElement(symbol)?.bracketed, false, symbol);
  }
});

test('elements without a standard atomic weight are bracketed with a mass number', () => {
  for (const symbol of ['Tc', 'Pm', 'Po', 'Rn', 'Pu', 'Og']) {
    const element = getElement(symbol);
    assert.equal(element?.bracketed, true, symbol);
    assert.ok(Number.isInteger(element?.atomicWeight), symbol);
    assert.equal(element?.atomicWeight, element?.massNumber, symbol);
  }
  // Radioactive but with natural isotopic composition: standard weights exist.
  assert.equal(getElement('U')?.bracketed, false);
  assert.equal(getElement('U')?.atomicWeight, 238.02891);
  assert.equal(getElement('Th')?.bracketed, false);
});

test('isotope table resolves listed isotopes and principal isotopes, not invented ones', () => {
  for (const [symbol, massNumber] of [
    ['H', 2],
    ['H', 3],
    ['C', 13],
    ['C', 14],
    ['N', 15],
    ['O', 17],
    ['O', 18],
    ['S', 34],
    ['Cl', 37],
    ['Br', 81],
  ] as const) {
    const isotope = getIsotope(symbol, massNumber);
    assert.ok(isotope !== undefined, `${massNumber}${symbol}`);
    assert.equal(Math.round(isotope.exactMass), massNumber);
  }
  assert.equal(getIsotope('C', 12)?.exactMass, 12);
  assert.equal(getIsotope('C', 99), undefined);
});

test('element symbols are case-sensitive: Co is cobalt, CO is carbon monoxide', () => {
  assert.deepEqual(counts('Co'), { Co: 1 });
  assert.deepEqual(counts('CO'), { C: 1, O: 1 });
  assert.deepEqual(counts('CoCO3'), { Co: 1, C: 1, O: 3 });
});

test('counts after elements are multiplied and repeated elements are summed', () => {
  assert.deepEqual(counts('H2O'), { H: 2, O: 1 });
  assert.deepEqual(counts('C2H5OH'), { C: 2, H: 6, O: 1 });
  assert.deepEqual(counts('C6H12O6'), { C: 6, H: 12, O: 6 });
});

test('parenthesised groups apply their multiplier', () => {
  assert.deepEqual(counts('Ca(OH)2'), { Ca: 1, O: 2, H: 2 });
  assert.deepEqual(counts('Fe2(SO4)3'), { Fe: 2, S: 3, O: 12 });
});

test('square and curly brackets nest like parentheses', () => {
  assert.deepEqual(counts('[Cu(NH3)4]SO4'), { Cu: 1, N: 4, H: 12, S: 1, O: 4 });
  assert.deepEqual(counts('K4[Fe(CN)6]'), { K: 4, Fe: 1, C: 6, N: 6 });
  assert.deepEqual(counts('{[(CH3)2]3}2'), { C: 12, H: 36 });
});

test('hydrates accept every adduct dot with a leading coefficient', () => {
  const expected = { Cu: 1, S: 1, O: 9, H: 10 };
  for (const text of ['CuSO4·5H2O', 'CuSO4.5H2O', 'CuSO4•5H2O', 'CuSO4*5H2O', 'CuSO4 · 5H2O']) {
    assert.deepEqual(counts(text), expected, text);
  }
  assert.deepEqual(counts('CaCl2·2H2O·NH3'), { Ca: 1, Cl: 2, H: 7, O: 2, N: 1 });
});

test('a bare trailing sign is charge ±1 and digits before it are the count', () => {
  assert.equal(parsed('NH4+').charge, 1);
  assert.deepEqual(counts('NH4+'), { N: 1, H: 4 });
  assert.equal(parsed('Cl-').charge, -1);
  // Documented rule: O2- is O2 with charge -1 (superoxide); oxide is O^2-.
  assert.equal(parsed('O2-').charge, -1);
  assert.deepEqual(counts('O2-'), { O: 2 });
  assert.equal(parsed('O^2-').charge, -2);
});

test('a charge magnitude follows a caret or a space', () => {
  assert.equal(parsed('SO4^2-').charge, -2);
  assert.equal(parsed('SO4 2-').charge, -2);
  assert.equal(parsed('Fe^3+').charge, 3);
  assert.equal(parsed('NH4^+').charge, 1);
  assert.deepEqual(counts('SO4^2-'), { S: 1, O: 4 });
});

test('digits and a final sign after a closing group bracket are the charge', () => {
  const ferrocyanide = parsed('[Fe(CN)6]4-');
  assert.equal(ferrocyanide.charge, -4);
  assert.deepEqual(counts('[Fe(CN)6]4-'), { Fe: 1, C: 6, N: 6 });
  assert.equal(parsed('[Cu(NH3)4]2+').charge, 2);
  // Without a sign the digits stay a multiplier.
  assert.deepEqual(counts('[Fe(CN)6]2'), { Fe: 2, C: 12, N: 12 });
});

test('a charge applies to the whole formula after adduct parts', () => {
  const result = parsed('[Fe(H2O)6]Cl·H2O+');
  assert.equal(result.charge, 1);
});

test('isotopes may be written as [13C], ^13C, D and T', () => {
  assert.deepEqual(counts('[13C]H4'), { '[13C]': 1, H: 4 });
  assert.deepEqual(counts('^13CH4'), { '[13C]': 1, H: 4 });
  assert.deepEqual(counts('D2O'), { '[2H]': 2, O: 1 });
  assert.deepEqual(counts('T2O'), { '[3H]': 2, O: 1 });
  assert.deepEqual(counts('CD3OD'), { C: 1, '[2H]': 4, O: 1 });
  assert.deepEqual(counts('H2[18O]'), { H: 2, '[18O]': 1 });
  // D/T never shadow two-letter symbols.
  assert.deepEqual(counts('DyTbTa'), { Dy: 1, Tb: 1, Ta: 1 });
});

test('isotope atoms keep a reference to their isotope and element', () => {
  const [carbon] = parsed('[13C]O2').atoms;
  assert.equal(carbon?.element.symbol, 'C');
  assert.equal(carbon?.isotope?.massNumber, 13);
  assert.equal(carbon?.isotope?.exactMass, 13.00335483507);
});

test('surrounding whitespace is ignored', () => {
  assert.deepEqual(counts('  H2O  '), { H: 2, O: 1 });
});

test('rejects the empty string and whitespace-only input', () => {
  assert.deepEqual(rejection(''), { reason: 'formula is empty', position: 0 });
  assert.deepEqual(rejection('   '), { reason: 'formula is empty', position: 0 });
});

test('rejects unknown elements at their position', () => {
  assert.deepEqual(rejection('Xx'), { reason: "unknown element 'Xx'", position: 0 });
  assert.deepEqual(rejection('H2Q'), { reason: "unknown element 'Q'", position: 2 });
  assert.deepEqual(rejection('NaCx'), { reason: "unknown element 'Cx'", position: 2 });
});

test('rejects a lowercase start', () => {
  const { reason, position } = rejection('h2o');
  assert.equal(position, 0);
  assert.match(reason, /lowercase 'h'/);
});

test('rejects unbalanced and mismatched brackets', () => {
  assert.deepEqual(rejection('Ca(OH2'), { reason: "unclosed '('", position: 2 });
  assert.deepEqual(rejection('H2O)'), { reason: "unmatched ')'", position: 3 });
  assert.deepEqual(rejection('(OH]'), {
    reason: "mismatched ']': expected ')' to close '(' at position 0",
    position: 3,
  });
  assert.deepEqual(rejection('Ca()2'), { reason: "empty group '()'", position: 2 });
  assert.equal(rejection('[Cu(NH3)4SO4').position, 0);
});

test('rejects zero counts and leading zeros', () => {
  assert.deepEqual(rejection('H0'), { reason: 'count must be at least 1', position: 1 });
  assert.deepEqual(rejection('(OH)0'), { reason: 'count must be at least 1', position: 4 });
  assert.deepEqual(rejection('CuSO4·0H2O'), {
    reason: 'coefficient must be at least 1',
    position: 6,
  });
  assert.deepEqual(rejection('H02O'), { reason: 'count has a leading zero', position: 1 });
  assert.deepEqual(rejection('SO4^0-'), {
    reason: 'charge magnitude must be at least 1',
    position: 4,
  });
});

test('rejects more than a million atoms, including through multipliers', () => {
  assert.ok(parseFormula(`C${MAX_ATOMS}`).ok);
  assert.deepEqual(rejection('C1000001'), {
    reason: `count 1000001 exceeds the limit of ${MAX_ATOMS}`,
    position: 1,
  });
  assert.deepEqual(rejection('(H1000000)2'), {
    reason: `formula has more than ${MAX_ATOMS} atoms`,
    position: 10,
  });
  assert.deepEqual(rejection('((((H100)100)100)100)'), {
    reason: `formula has more than ${MAX_ATOMS} atoms`,
    position: 17,
  });
  assert.equal(rejection('H999999·2H2').reason, `formula has more than ${MAX_ATOMS} atoms`);
  assert.equal(rejection('C99999999999999999999').position, 1);
});

test('rejects trailing garbage at its position', () => {
  assert.deepEqual(rejection('H2O!'), { reason: "unexpected character '!'", position: 3 });
  assert.deepEqual(rejection('SO4^2-x'), {
    reason: "unexpected 'x' after the charge, which must end the formula",
    position: 6,
  });
  assert.equal(rejection('H2O abc').position, 3);
  assert.equal(rejection('NaCl;DROP TABLE').position, 4);
});

test('a character outside the grammar is quoted whole: an emoji, not half of its surrogate pair', () => {
  assert.deepEqual(rejection('C😀'), { reason: "unexpected character '😀'", position: 1 });
  assert.deepEqual(rejection('SO4^2-😀'), {
    reason: "unexpected '😀' after the charge, which must end the formula",
    position: 6,
  });
  // Half a pair on its own is no character: it is quoted as its escape.
  assert.equal(rejection('C\ud83d').reason, "unexpected character '\\ud83d'");
  assert.equal(rejection('C\ude00H').reason, "unexpected character '\\ude00'");
});

test('property: every rejection reason is well-formed text, whatever the input', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 30 }),
        fc.string({ unit: 'grapheme', maxLength: 30 }),
        fc
          .tuple(fc.constantFrom('C', 'H2O', '(NH4)2', 'Fe^3+'), fc.string({ unit: 'binary' }))
          .map(([a, b]) => a + b),
      ),
      (text) => {
        const result = parseFormula(text);
        if (!result.ok) {
          assert.ok(result.reason.isWellFormed(), JSON.stringify(result.reason));
          assert.ok(!result.reason.includes('\u0000'), JSON.stringify(result.reason));
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test('(H2O)1000000000 and other absurd counts are refused, never turned into unsafe numbers', () => {
  assert.deepEqual(rejection('(H2O)1000000000'), {
    reason: `count 1000000000 exceeds the limit of ${MAX_ATOMS}`,
    position: 5,
  });
  assert.equal(
    rejection('H9007199254740993').reason,
    `count 9007199254740993 exceeds the limit of ${MAX_ATOMS}`,
  );
  assert.equal(rejection('(H2O)1000000').reason, `formula has more than ${MAX_ATOMS} atoms`);
  // Whatever is accepted has counts that are safe integers (and so masses that are finite).
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom('H', 'C', '(H2O)', '[13C]', 'U'), fc.nat(2_000_000)), {
        minLength: 1,
        maxLength: 6,
      }),
      (units) => {
        const result = parseFormula(units.map(([u, n]) => (n < 2 ? u : `${u}${n}`)).join(''));
        if (!result.ok) return;
        const total = result.formula.atoms.reduce((sum, atom) => sum + atom.count, 0);
        assert.ok(Number.isSafeInteger(total) && total <= MAX_ATOMS, String(total));
      },
    ),
  );
});

test(`rejects input longer than ${MAX_FORMULA_LENGTH} characters`, () => {
  assert.ok(parseFormula('C'.repeat(MAX_FORMULA_LENGTH)).ok);
  assert.deepEqual(rejection('C'.repeat(MAX_FORMULA_LENGTH + 1)), {
    reason: `formula is longer than ${MAX_FORMULA_LENGTH} characters`,
    position: MAX_FORMULA_LENGTH,
  });
});

test('rejects charges anywhere but the end', () => {
  const { reason, position } = rejection('NH4+Cl');
  assert.equal(position, 4);
  assert.match(reason, /unexpected 'C' after the charge/);
  assert.equal(rejection('+H').position, 0);
  assert.deepEqual(rejection('SO4^2'), {
    reason: "expected '+' or '-' after the charge magnitude",
    position: 5,
  });
});

test('rejects a positive charge larger than the electron count', () => {
  assert.deepEqual(rejection('H^2+'), {
    reason: 'charge +2 exceeds the number of electrons (1)',
    position: 1,
  });
  assert.ok(parseFormula('H+').ok);
});

test('rejects unknown or malformed isotopes', () => {
  assert.deepEqual(rejection('[99C]H4'), { reason: 'unknown isotope 99C', position: 1 });
  assert.deepEqual(rejection('[13C'), {
    reason: "expected ']' to close the isotope label opened at position 0",
    position: 4,
  });
  assert.deepEqual(rejection('[13]'), {
    reason: 'expected an element symbol after the mass number',
    position: 3,
  });
});

test('rejects misplaced coefficients, dots and whitespace', () => {
  assert.equal(rejection('2H2O').position, 0);
  assert.deepEqual(rejection('CuSO4·'), { reason: "expected a formula after '·'", position: 6 });
  assert.equal(rejection('CuSO4··H2O').position, 6);
  assert.equal(rejection('(CuSO4·H2O)').position, 6);
  assert.match(rejection('CuSO4 5H2O').reason, /unexpected whitespace/);
});

test('rejects a non-string argument without throwing', () => {
  const result = parseFormula(42 as unknown as string);
  assert.deepEqual(result, { ok: false, reason: 'formula must be a string', position: 0 });
});

test('pathological nesting parses in linear time without throwing', () => {
  const depth = 99;
  const nested = `${'('.repeat(depth)}H${')'.repeat(depth)}`;
  assert.ok(nested.length <= MAX_FORMULA_LENGTH);
  assert.deepEqual(counts(nested), { H: 1 });
  assert.deepEqual(rejection('('.repeat(MAX_FORMULA_LENGTH)), {
    reason: "unclosed '('",
    position: MAX_FORMULA_LENGTH - 1,
  });
});
