// What an element must be to be stored exactly as sent: JSON that PostgreSQL's jsonb accepts and
// that reads back unchanged. Checked without recursion, so no nesting can overflow the stack.

/** Arrays and objects nested deeper than this are refused (jsonb and JSON.stringify both recurse). */
export const MAX_JSON_DEPTH = 512;

/**
 * Why `value` cannot be stored, or null when it can: nesting deeper than MAX_JSON_DEPTH, a number
 * that is not finite (`1e400` parses to Infinity, which JSON.stringify would turn into null), or a
 * string or key with a lone UTF-16 surrogate (`"\ud800"`, which is not Unicode and jsonb refuses).
 */
export function jsonProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): string | null {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (!v.isWellFormed()) return 'a string contains a lone UTF-16 surrogate (such as "\\ud800"), which is not valid Unicode';
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return 'a number is out of range (such as 1e400): numbers must fit a 64-bit float';
    } else if (v !== null && typeof v === 'object') {
      if (depth >= maxDepth) return `arrays and objects are nested deeper than ${maxDepth} levels`;
      if (Array.isArray(v)) {
        for (const item of v) stack.push([item, depth + 1]);
      } else {
        for (const [key, item] of Object.entries(v)) {
          if (!key.isWellFormed()) return 'a key contains a lone UTF-16 surrogate (such as "\\ud800"), which is not valid Unicode';
          stack.push([item, depth + 1]);
        }
      }
    }
  }
  return null;
}

/**
 * Text that may hold a number JSON.parse would change: an exponent, or 300 digits (or zeros after
 * the point) in a row. Any other literal is within a double's range, so most bodies skip the scan.
 */
const MAY_LEAVE_RANGE = /\d[eE]|\d{300}/;

/** A JSON string (skipped whole, so digits inside one are not numbers) or a number literal. */
const TOKEN = /"[^"\\]*(?:\\.[^"\\]*)*"|-?\d[\d.]*(?:[eE][+-]?\d+)?/g;

function literalProblem(literal: string): string | null {
  const value = Number(literal);
  const shown = literal.length > 40 ? `${literal.slice(0, 37)}...` : literal;
  if (!Number.isFinite(value)) return `a number is out of range (${shown}): numbers must fit a 64-bit float`;
  // The digits before the exponent are not all zeros, yet the value is: it underflowed.
  if (value === 0 && /[1-9]/.test(literal.split(/[eE]/)[0])) return `a number is too small for a 64-bit float (${shown}) and would be stored as 0`;
  return null;
}

/**
 * Why JSON `text` (text JSON.parse accepted) would not be stored as sent, or null: a number
 * literal that overflows to ±Infinity (`1e400`) or underflows to 0 (`1e-400`), which JSON.parse
 * does without a word.
 */
export function numberLiteralProblem(text: string): string | null {
  if (!MAY_LEAVE_RANGE.test(text)) return null;
  for (const [token] of text.matchAll(TOKEN)) {
    if (token.startsWith('"') || (token.length < 300 && !/[eE]/.test(token))) continue;
    const problem = literalProblem(token);
    if (problem) return problem;
  }
  return null;
}
