// What a recipe is: a named template that, from a few parameters, yields the streams and reducers
// to install. Reducer code is a string run by the sandbox; parameters are baked in as JSON literals.
import type { z } from 'zod';

export type RecipeStream = { slug: string; name: string };
export type RecipeReducer = { stream: string; name: string; code: string; initialState: unknown; keyBy?: string };
export type RecipePlan = { streams: RecipeStream[]; reducers: RecipeReducer[]; team?: { emailFrom?: string } };

export type Recipe<S extends z.ZodType = z.ZodType> = {
  name: string;
  title: string;
  description: string;
  params: S;
  build(params: z.output<S>): RecipePlan;
};

/** A JSON literal for splicing a parameter into reducer source. */
export const lit = (value: unknown): string => JSON.stringify(value);

/**
 * keyBy for recipes that keep one state per user: `event.user` when it can be a key (a non-empty
 * string of at most 512 bytes of UTF-8 with no NUL and no lone surrogate), else null, so a sender's
 * odd event is passed over instead of stopping the reducer for everyone.
 */
export const KEY_BY_USER = `(event) => {
  const id = event !== null && typeof event === 'object' ? event.user : null;
  if (typeof id !== 'string' || id === '' || id.includes('\\u0000')) return null;
  try {
    // encodeURIComponent spells each UTF-8 byte of a non-ASCII character as %XX (and throws on a lone surrogate).
    return encodeURIComponent(id).replace(/%[0-9A-F]{2}/g, '_').length <= 512 ? id : null;
  } catch (e) {
    return null;
  }
}`;
