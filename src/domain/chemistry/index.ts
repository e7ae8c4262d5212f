/**
 * Deterministic chemistry domain: formula parsing, Hill normal form and masses. Pure, no I/O.
 */

import { parseFormula } from './formula.ts';
import { averageMass, composition, hillFormula, monoisotopicMass } from './mass.ts';

export type FormulaAnalysis =
  | {
      ok: true;
      hill: string;
      composition: Record<string, number>;
      charge: number;
      averageMass: number;
      monoisotopicMass: number;
    }
  | { ok: false; reason: string; position: number };

const round = (value: number, decimals: number): number => {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
};

/**
 * Parses and analyses a formula: Hill form, composition, charge, average molar mass (g/mol,
 * 4 decimals, charge not applied) and monoisotopic mass (u, 6 decimals, electron-corrected).
 *
 * @example
 * analyzeFormula('CuSO4·5H2O');
 * // { ok: true, hill: 'CuH10O9S', composition: { Cu: 1, H: 10, O: 9, S: 1 }, charge: 0,
 * //   averageMass: 249.677, monoisotopicMass: 248.934151 }
 * analyzeFormula('h2o'); // { ok: false, reason: "unexpected lowercase 'h': ...", position: 0 }
 */
export function analyzeFormula(formula: string): FormulaAnalysis {
  const parsed = parseFormula(formula);
  if (!parsed.ok) return { ok: false, reason: parsed.reason, position: parsed.position };
  const { formula: f } = parsed;
  return {
    ok: true,
    hill: hillFormula(f),
    composition: composition(f),
    charge: f.charge,
    averageMass: round(averageMass(f), 4),
    monoisotopicMass: round(monoisotopicMass(f), 6),
  };
}

export type { WeightComparison } from './mass.ts';
export { compareReportedWeight } from './mass.ts';
