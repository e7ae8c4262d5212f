/**
 * Regular expressions of registered schemas (`pattern`, `patternProperties`) run on RE2
 * (re2js, pure JS): matching takes time linear in the text, so no pattern an admin registers
 * can make one event cost seconds of CPU (catastrophic backtracking, ReDoS). The price: what
 * RE2 lacks — lookaround and backreferences — is refused when the schema is registered, and
 * `\s` means ASCII white space only.
 */
import { RE2JS } from 're2js';

export interface PatternMatcher {
  /** Whether the pattern matches anywhere in `text` (JSON Schema patterns are not anchored). */
  test(text: string): boolean;
  /** Distinct per pattern (Ajv keys a compiled schema's patterns by it). */
  toString(): string;
}

/**
 * JSON Schema writes patterns in ECMA-262 syntax; RE2 spells a code point `\x{…}`, not `\u…`.
 * Rewrites `\uXXXX` and `\u{…}` escapes (an escaped backslash is left alone).
 */
function toRe2Syntax(source: string): string {
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const rest = source.slice(i + 1);
    const braced = /^u\{([0-9A-Fa-f]{1,6})\}/.exec(rest);
    const plain = /^u([0-9A-Fa-f]{4})/.exec(rest);
    const codePoint = braced ?? plain;
    if (codePoint) {
      out += `\\x{${codePoint[1]}}`;
      i += codePoint[0].length;
    } else {
      out += `\\${source[i + 1] ?? ''}`;
      i++;
    }
  }
  return out;
}

const cache = new Map<string, PatternMatcher>();
const CACHE_MAX = 10_000;

/**
 * A linear-time matcher for a schema's pattern; throws (with RE2's reason) for a pattern RE2
 * cannot run. Compiled once per distinct source.
 *
 * @example
 * compilePattern('^[A-Z]{3}$').test('EUR'); // true
 */
export function compilePattern(source: string): PatternMatcher {
  const known = cache.get(source);
  if (known !== undefined) return known;
  const re = RE2JS.compile(toRe2Syntax(source));
  const matcher: PatternMatcher = {
    // test(): an unanchored search without capture groups, on the DFA when it can.
    test: (text) => re.test(text),
    // Ajv keys the patterns of a compiled schema by this text: it must differ per pattern.
    toString: () => `re2:${source}`,
  };
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(source, matcher);
  return matcher;
}

/** Why RE2 refuses `source`, or undefined when it compiles. */
export function patternProblem(source: string): string | undefined {
  try {
    compilePattern(source);
    return undefined;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return `not a pattern Herald can match in linear time (${reason}); lookaround and backreferences are not supported`;
  }
}
