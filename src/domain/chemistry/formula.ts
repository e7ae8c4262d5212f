/**
 * Chemical formula parser: a small recursive-descent parser (no regular expressions, so no
 * backtracking blow-ups) over this grammar:
 *
 *   input     = formula [charge]
 *   formula   = sequence { dot [coefficient] sequence }        dot: · . • * ∙ ⋅ (spaces allowed)
 *   sequence  = unit { unit }
 *   unit      = (element | isotope | group) [count]
 *   group     = "(" sequence ")" | "[" sequence "]" | "{" sequence "}"
 *   isotope   = "[" massNumber symbol "]" | "^" massNumber symbol | "D" | "T"
 *   charge    = "^" [magnitude] sign | " " [magnitude] sign | [magnitude] sign
 *
 * Charge rule: a charge is a trailing `+` or `-`, optionally preceded by a magnitude, and only at
 * the very end. Digits right after an element symbol or isotope are always its count, so the
 * magnitude must be introduced by `^` or a space (`SO4^2-`, `SO4 2-`, `Fe^3+`); a bare sign is
 * ±1 (`NH4+` → +1, `O2-` → O2 with charge −1, write `O^2-` for oxide). After a closing group
 * bracket, digits followed by the final sign are the charge magnitude (`[Fe(CN)6]4-` → −4).
 *
 * Positions are 0-based UTF-16 offsets into the original text.
 */

import type { ChemicalElement, Isotope } from './elements.ts';
import { getElement, getIsotope, ISOTOPE_ALIASES, isotopeLabel } from './elements.ts';

/** Longer input is rejected before parsing. */
export const MAX_FORMULA_LENGTH = 200;
/** Upper bound on any count, coefficient, charge magnitude and on the total number of atoms. */
export const MAX_ATOMS = 1_000_000;

export interface FormulaAtom {
  /** `C` for the element with natural isotopic composition, `[13C]` for an explicit isotope. */
  readonly label: string;
  readonly element: ChemicalElement;
  /** Set for explicit isotopes (`[13C]`, `^13C`, `D`, `T`). */
  readonly isotope: Isotope | undefined;
  readonly count: number;
}

export interface ParsedFormula {
  /** One entry per distinct label, in order of first appearance. */
  readonly atoms: readonly FormulaAtom[];
  readonly charge: number;
}

export type ParseResult =
  | { readonly ok: true; readonly formula: ParsedFormula }
  | { readonly ok: false; readonly reason: string; readonly position: number };

interface AtomKind {
  readonly label: string;
  readonly element: ChemicalElement;
  readonly isotope: Isotope | undefined;
}

type Counts = Map<string, { kind: AtomKind; count: number }>;

const CLOSER_OF: ReadonlyMap<string, string> = new Map([
  ['(', ')'],
  ['[', ']'],
  ['{', '}'],
]);
const CLOSERS: ReadonlySet<string> = new Set([')', ']', '}']);
// Middle dot is the IUPAC form; the rest are what keyboards and PDFs produce.
const ADDUCT_DOTS: ReadonlySet<string> = new Set(['·', '.', '•', '*', '∙', '⋅']);

class FormulaSyntaxError extends Error {
  readonly position: number;

  constructor(reason: string, position: number) {
    super(reason);
    this.name = 'FormulaSyntaxError';
    this.position = position;
  }
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isUpper = (c: string | undefined): boolean => c !== undefined && c >= 'A' && c <= 'Z';
const isLower = (c: string | undefined): boolean => c !== undefined && c >= 'a' && c <= 'z';
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t';
const isSign = (c: string | undefined): boolean => c === '+' || c === '-';

/**
 * The whole character at UTF-16 offset `at`, for quoting in a message: an astral one (an
 * emoji) is two code units, and half of it is not text anyone can read or store. An unpaired
 * surrogate (no character at all) and a control character (NUL …) are quoted as their escape,
 * `\ud83d`, `\u0000`.
 */
function characterAt(text: string, at: number): string {
  const code = text.codePointAt(at);
  if (code === undefined) return '';
  if (code < 0x20 || (code >= 0xd800 && code <= 0xdfff)) {
    return `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return String.fromCodePoint(code);
}

function single(kind: AtomKind): Counts {
  return new Map([[kind.label, { kind, count: 1 }]]);
}

/** Adds `source × multiplier` into `target`, enforcing the atom limit at `position`. */
function addCounts(target: Counts, source: Counts, multiplier: number, position: number): void {
  for (const [label, { kind, count }] of source) {
    const existing = target.get(label);
    if (existing === undefined) target.set(label, { kind, count: count * multiplier });
    else existing.count += count * multiplier;
  }
  let total = 0;
  for (const entry of target.values()) total += entry.count;
  if (total > MAX_ATOMS) {
    throw new FormulaSyntaxError(`formula has more than ${MAX_ATOMS} atoms`, position);
  }
}

class Parser {
  private readonly text: string;
  private pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  parse(): ParsedFormula {
    const { text } = this;
    if (text.length > MAX_FORMULA_LENGTH) {
      this.fail(`formula is longer than ${MAX_FORMULA_LENGTH} characters`, MAX_FORMULA_LENGTH);
    }
    this.pos = this.skipSpaces(0);
    if (this.pos === text.length) this.fail('formula is empty', 0);
    if (isDigit(text[this.pos])) {
      this.fail('a coefficient is only allowed after an adduct dot, as in CuSO4·5H2O', this.pos);
    }

    const counts = this.parseSequence();
    if (counts.size === 0) throw this.unexpected();

    for (;;) {
      const dotAt = this.skipSpaces(this.pos);
      const dot = text[dotAt];
      if (dot === undefined || !ADDUCT_DOTS.has(dot)) break;
      this.pos = this.skipSpaces(dotAt + 1);
      const coefficientAt = this.pos;
      const coefficient = this.parseNumber('coefficient') ?? 1;
      const part = this.parseSequence();
      if (part.size === 0) {
        if (this.pos === text.length) this.fail(`expected a formula after '${dot}'`, this.pos);
        throw this.unexpected();
      }
      addCounts(counts, part, coefficient, coefficientAt);
    }

    const chargeAt = this.skipSpaces(this.pos);
    const charge = this.parseCharge();
    const rest = this.skipSpaces(this.pos);
    if (rest < text.length) {
      if (charge !== 0) {
        this.fail(
          `unexpected '${characterAt(text, rest)}' after the charge, which must end the formula`,
          rest,
        );
      }
      throw this.unexpected();
    }

    const atoms: FormulaAtom[] = [];
    let electrons = 0;
    for (const { kind, count } of counts.values()) {
      atoms.push({ ...kind, count });
      electrons += kind.element.atomicNumber * count;
    }
    if (charge > electrons) {
      this.fail(`charge +${charge} exceeds the number of electrons (${electrons})`, chargeAt);
    }
    return { atoms, charge };
  }

  private fail(reason: string, position: number): never {
    throw new FormulaSyntaxError(reason, position);
  }

  private skipSpaces(from: number): number {
    let at = from;
    while (isSpace(this.text[at])) at++;
    return at;
  }

  /** Units until something that cannot start a unit; the caller decides what that may be. */
  private parseSequence(): Counts {
    const counts: Counts = new Map();
    for (;;) {
      const c = this.text[this.pos];
      let unit: Counts;
      let isGroup = false;
      if (isUpper(c)) {
        unit = single(this.parseElement());
      } else if (c === '[' && isDigit(this.text[this.pos + 1])) {
        unit = single(this.parseIsotope(']'));
      } else if (c === '^' && this.caretStartsIsotope()) {
        unit = single(this.parseIsotope(undefined));
      } else if (c !== undefined && CLOSER_OF.has(c)) {
        unit = this.parseGroup();
        isGroup = true;
      } else {
        return counts;
      }
      const countAt = this.pos;
      addCounts(counts, unit, this.parseCount(isGroup), countAt);
    }
  }

  private parseElement(): AtomKind {
    const start = this.pos;
    const first = this.text[start] ?? '';
    const second = this.text[start + 1];
    const symbol = second !== undefined && isLower(second) ? first + second : first;
    const element = getElement(symbol);
    if (element !== undefined) {
      this.pos += symbol.length;
      return { label: symbol, element, isotope: undefined };
    }
    const alias = Object.hasOwn(ISOTOPE_ALIASES, symbol) ? ISOTOPE_ALIASES[symbol] : undefined;
    if (alias !== undefined) {
      this.pos += symbol.length;
      return this.isotopeKind(alias.symbol, alias.massNumber, start);
    }
    return this.fail(`unknown element '${symbol}'`, start);
  }

  private caretStartsIsotope(): boolean {
    let at = this.pos + 1;
    while (isDigit(this.text[at])) at++;
    return at > this.pos + 1 && isUpper(this.text[at]);
  }

  /** `[13C]` when `closer` is `]`, `^13C` when it is undefined. */
  private parseIsotope(closer: string | undefined): AtomKind {
    const openAt = this.pos;
    this.pos++;
    const massAt = this.pos;
    const massNumber = this.parseNumber('mass number') ?? 0;
    const symbolAt = this.pos;
    if (!isUpper(this.text[symbolAt])) {
      this.fail('expected an element symbol after the mass number', symbolAt);
    }
    const second = this.text[symbolAt + 1];
    const symbol = (this.text[symbolAt] ?? '') + (isLower(second) ? second : '');
    const element = getElement(symbol);
    if (element === undefined) this.fail(`unknown element '${symbol}'`, symbolAt);
    this.pos += symbol.length;
    if (closer !== undefined) {
      if (this.text[this.pos] !== closer) {
        this.fail(
          `expected '${closer}' to close the isotope label opened at position ${openAt}`,
          this.pos,
        );
      }
      this.pos++;
    }
    return this.isotopeKind(symbol, massNumber, massAt);
  }

  private isotopeKind(symbol: string, massNumber: number, position: number): AtomKind {
    const element = getElement(symbol);
    const isotope = getIsotope(symbol, massNumber);
    if (element === undefined || isotope === undefined) {
      return this.fail(`unknown isotope ${massNumber}${symbol}`, position);
    }
    return { label: isotopeLabel(symbol, massNumber), element, isotope };
  }

  private parseGroup(): Counts {
    const openAt = this.pos;
    const open = this.text[openAt] ?? '';
    const close = CLOSER_OF.get(open) ?? '';
    this.pos++;
    const inner = this.parseSequence();
    const c = this.text[this.pos];
    if (c === close) {
      if (inner.size === 0) this.fail(`empty group '${open}${close}'`, openAt);
      this.pos++;
      return inner;
    }
    if (c === undefined) this.fail(`unclosed '${open}'`, openAt);
    if (CLOSERS.has(c)) {
      this.fail(
        `mismatched '${c}': expected '${close}' to close '${open}' at position ${openAt}`,
        this.pos,
      );
    }
    if (ADDUCT_DOTS.has(c)) this.fail(`adduct dot '${c}' is not allowed inside brackets`, this.pos);
    throw this.unexpected();
  }

  /** Count after a unit (1 when absent). After a group, `4-` at the end is a charge instead. */
  private parseCount(afterGroup: boolean): number {
    let end = this.pos;
    while (isDigit(this.text[end])) end++;
    if (afterGroup && end > this.pos && this.isChargeTail(end)) return 1;
    return this.parseNumber('count') ?? 1;
  }

  private isChargeTail(at: number): boolean {
    return isSign(this.text[at]) && this.skipSpaces(at + 1) === this.text.length;
  }

  /** A positive integer without leading zeros, or undefined when no digit is at `pos`. */
  private parseNumber(what: string): number | undefined {
    const start = this.pos;
    let end = start;
    while (isDigit(this.text[end])) end++;
    if (end === start) return undefined;
    const digits = this.text.slice(start, end);
    const value = Number(digits);
    if (value === 0) this.fail(`${what} must be at least 1`, start);
    if (digits.startsWith('0')) this.fail(`${what} has a leading zero`, start);
    if (value > MAX_ATOMS) this.fail(`${what} ${digits} exceeds the limit of ${MAX_ATOMS}`, start);
    this.pos = end;
    return value;
  }

  /** Trailing charge (0 when there is none); leaves `pos` alone when nothing matches. */
  private parseCharge(): number {
    const start = this.skipSpaces(this.pos);
    let at = start;
    const caret = this.text[at] === '^';
    if (caret) at++;
    let end = at;
    while (isDigit(this.text[end])) end++;
    const sign = this.text[end];
    if (!isSign(sign)) {
      if (caret && end > at) this.fail("expected '+' or '-' after the charge magnitude", end);
      if (caret) this.fail("expected a charge such as '^2-' or an isotope such as '^13C'", at);
      return 0;
    }
    this.pos = at;
    const magnitude = this.parseNumber('charge magnitude') ?? 1;
    this.pos = end + 1;
    return sign === '-' ? -magnitude : magnitude;
  }

  /** Best explanation for the character at `pos` that no rule could consume. */
  private unexpected(): FormulaSyntaxError {
    const at = this.pos;
    const c = this.text[at];
    const error = (reason: string) => new FormulaSyntaxError(reason, at);
    if (c === undefined) return error('unexpected end of formula');
    if (isLower(c)) {
      return error(`unexpected lowercase '${c}': element symbols start with an uppercase letter`);
    }
    if (CLOSERS.has(c)) return error(`unmatched '${c}'`);
    if (isSign(c)) return error(`unexpected '${c}': a charge must come at the end of the formula`);
    if (isDigit(c)) return error('unexpected number: counts follow an element or a group');
    if (isSpace(c)) {
      return error(
        'unexpected whitespace: spaces are allowed only around adduct dots and before a charge',
      );
    }
    if (ADDUCT_DOTS.has(c)) return error(`unexpected adduct dot '${c}'`);
    return error(`unexpected character '${characterAt(this.text, at)}'`);
  }
}

/**
 * Parses a chemical formula into atom counts and a charge. Never throws on bad input; returns the
 * reason and the 0-based position instead.
 *
 * @example
 * parseFormula('[Cu(NH3)4]SO4');  // ok: Cu 1, N 4, H 12, S 1, O 4; charge 0
 * parseFormula('SO4^2-');         // ok: S 1, O 4; charge -2
 * parseFormula('CuSO4·5H2O');     // ok: Cu 1, S 1, O 9, H 10
 * parseFormula('Xx');             // { ok: false, reason: "unknown element 'Xx'", position: 0 }
 */
export function parseFormula(text: string): ParseResult {
  if (typeof text !== 'string')
    return { ok: false, reason: 'formula must be a string', position: 0 };
  try {
    return { ok: true, formula: new Parser(text).parse() };
  } catch (error) {
    if (error instanceof FormulaSyntaxError) {
      return { ok: false, reason: error.message, position: error.position };
    }
    throw error;
  }
}
