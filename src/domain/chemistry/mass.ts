/**
 * Normal form, composition and masses of a parsed formula.
 */

import type { FormulaAtom, ParsedFormula } from './formula.ts';

/** Electron mass in u (CODATA 2018). */
export const ELECTRON_MASS = 0.000548579909065;

/**
 * Tolerance for `compareReportedWeight`: a reported molar mass matches when it is within
 * max(0.01 g/mol, 0.1 % of the computed value).
 *
 * Why: researchers compute molar masses from abridged tables (H 1.008 vs 1.00794, Cl 35.45 vs
 * 35.453) and round to two decimals, so honest values for small molecules drift by up to ~0.01
 * and for large ones by a few hundredths of a percent (older weights, hydrate water rounding).
 * A wrong formula or a typo moves the value by at least a hydrogen (≈1 g/mol), far outside.
 */
export const WEIGHT_TOLERANCE = Object.freeze({ absolute: 0.01, relative: 0.001 });

// Absorbs binary floating-point noise at the boundary (18.025 − 18.015 is not exactly 0.01).
const FLOAT_SLACK = 1e-9;

export interface WeightComparison {
  readonly matches: boolean;
  /** reported − computed, in g/mol. */
  readonly difference: number;
  /** (reported − computed) / computed. */
  readonly relativeDifference: number;
  /** The allowed |difference| for this computed value, in g/mol. */
  readonly tolerance: number;
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Atoms in Hill order: with carbon, C then H then the rest alphabetically; without carbon, all
 * alphabetically. Explicit isotopes sort with their element (a labelled carbon still counts as
 * carbon), after the natural form, by ascending mass number.
 *
 * @example hillOrder(parsed('OHC2H5')).map((a) => a.label) // ['C', 'H', 'O']
 */
export function hillOrder(atoms: readonly FormulaAtom[]): FormulaAtom[] {
  const hasCarbon = atoms.some((atom) => atom.element.symbol === 'C');
  const rank = (symbol: string): number => {
    if (!hasCarbon) return 2;
    if (symbol === 'C') return 0;
    return symbol === 'H' ? 1 : 2;
  };
  return [...atoms].sort(
    (a, b) =>
      rank(a.element.symbol) - rank(b.element.symbol) ||
      compareText(a.element.symbol, b.element.symbol) ||
      (a.isotope?.massNumber ?? 0) - (b.isotope?.massNumber ?? 0),
  );
}

/**
 * Charge suffix that parses back to the same charge: `+`/`-` for ±1, `^n+`/`^n-` otherwise
 * (a bare `2-` after a count would be read as part of the count).
 *
 * @example chargeSuffix(-2) // '^2-'
 */
export function chargeSuffix(charge: number): string {
  if (charge === 0) return '';
  const sign = charge > 0 ? '+' : '-';
  const magnitude = Math.abs(charge);
  return magnitude === 1 ? sign : `^${magnitude}${sign}`;
}

/**
 * Hill-notation normal form, with isotopes as `[13C]` and a trailing charge.
 *
 * @example hillFormula(parsed('C2H5OH')) // 'C2H6O'; hillFormula(parsed('NH4+')) // 'H4N+'
 */
export function hillFormula(formula: ParsedFormula): string {
  const body = hillOrder(formula.atoms)
    .map((atom) => (atom.count === 1 ? atom.label : `${atom.label}${atom.count}`))
    .join('');
  return body + chargeSuffix(formula.charge);
}

/**
 * Atom counts keyed by label (`C`, `[13C]`), in Hill order.
 *
 * @example composition(parsed('CuSO4·5H2O')) // { Cu: 1, H: 10, O: 9, S: 1 }
 */
export function composition(formula: ParsedFormula): Record<string, number> {
  return Object.fromEntries(hillOrder(formula.atoms).map((atom) => [atom.label, atom.count]));
}

/**
 * Average molar mass in g/mol from standard atomic weights; explicit isotopes count with their
 * exact mass. The charge is ignored: by convention molar masses of ions are not corrected for
 * electrons (0.00055 g/mol per charge, below the precision of the atomic weights themselves).
 *
 * @example averageMass(parsed('H2O')) // 18.015
 */
export function averageMass(formula: ParsedFormula): number {
  let total = 0;
  for (const atom of formula.atoms) {
    total += atom.count * (atom.isotope?.exactMass ?? atom.element.atomicWeight);
  }
  return total;
}

/**
 * Monoisotopic (exact) mass in u: most abundant isotope of each element, explicit isotopes as
 * written, minus one electron mass per positive charge (plus one per negative charge), as mass
 * spectrometry reports ions.
 *
 * @example monoisotopicMass(parsed('H2O')) // 18.0105646840...
 */
export function monoisotopicMass(formula: ParsedFormula): number {
  let total = 0;
  for (const atom of formula.atoms) {
    total += atom.count * (atom.isotope?.exactMass ?? atom.element.monoisotopicMass);
  }
  return total - formula.charge * ELECTRON_MASS;
}

/**
 * Compares a molar mass reported by a researcher with the computed one, using
 * `WEIGHT_TOLERANCE`: |reported − computed| ≤ max(0.01, 0.001 × computed).
 * Throws a RangeError when either value is not a finite number or `computed` is not positive.
 *
 * @example
 * compareReportedWeight(18.02, 18.015).matches // true
 * compareReportedWeight(20, 18.015).matches    // false
 */
export function compareReportedWeight(reported: number, computed: number): WeightComparison {
  if (!Number.isFinite(reported)) throw new RangeError('reported weight must be a finite number');
  if (!Number.isFinite(computed) || computed <= 0) {
    throw new RangeError('computed weight must be a positive finite number');
  }
  const difference = reported - computed;
  const tolerance = Math.max(WEIGHT_TOLERANCE.absolute, WEIGHT_TOLERANCE.relative * computed);
  return {
    matches: Math.abs(difference) <= tolerance + FLOAT_SLACK,
    difference,
    relativeDifference: difference / computed,
    tolerance,
  };
}
