// Inputs outside the public APIs (tRPC calls, form fields) that used to answer 500 or be stored as
// something else than was sent: NUL, lone surrogates, huge strings, deep nesting. Pure.
import { describe, expect, it } from 'vitest';
import { fieldsProblem, inputProblem, MAX_INPUT_STRING_LENGTH } from '../../src/lib/server/http/check-input.ts';

const nested = (levels: number): unknown => JSON.parse('['.repeat(levels) + ']'.repeat(levels));

describe('inputProblem', () => {
  it.each([
    ['a NUL in a team name', { team: 'acme', name: 'a\0b' }, /^input\.name contains the NUL character/],
    ['a lone surrogate (team.rename "\\ud800")', { team: 'acme', name: '\ud800' }, /^input\.name contains a lone UTF-16 surrogate/],
    ['a lone surrogate deep in an initial state', { initialState: { a: [1, { b: 'x\udc00' }] } }, /^input\.initialState\.a\[1\]\.b contains a lone/],
    ['a lone surrogate in a key', { initialState: { ['k\ud800']: 1 } }, /^a key in input\.initialState contains a lone/],
    ['a string over the bound', { code: 'x'.repeat(MAX_INPUT_STRING_LENGTH + 1) }, /^input\.code is longer than 1048576 characters/],
    ['Infinity', { index: Infinity }, /^input\.index is not a finite number/],
    ['100,000 levels of arrays', { initialState: nested(100_000) }, /nested deeper than 512 levels/],
  ])('refuses %s', (_name, input, message) => {
    expect(inputProblem(input)).toMatch(message);
  });

  it.each([
    ['no input', undefined],
    ['a surrogate pair and U+FFFD', { name: '😀 \ufffd' }],
    ['a Date (superjson)', { at: new Date(0) }],
    ['every JSON type', { s: 'x', n: 1.5e-300, t: true, z: null, a: [], o: {} }],
  ])('accepts %s', (_name, input) => {
    expect(inputProblem(input)).toBeNull();
  });
});

describe('fieldsProblem', () => {
  it('names the form field with a NUL, in its name or its value', () => {
    expect(fieldsProblem([['email', 'a@b.co'], ['password', 'x\0y']])).toMatch(/^Form field `password` contains the NUL character/);
    expect(fieldsProblem([['e\0', 'a']])).toMatch(/^Form field `e\\u0000` contains the NUL/);
    expect(fieldsProblem([['email', 'a@b.co'], ['password', 'correct horse']])).toBeNull();
  });
});
