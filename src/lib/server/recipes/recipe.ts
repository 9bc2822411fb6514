// What a recipe is: a named template that, from a few parameters, yields the streams and reducers
// to install. Reducer code is a string run by the sandbox; parameters are baked in as JSON literals.
import type { z } from 'zod';

export type RecipeStream = { slug: string; name: string };
export type RecipeReducer = { stream: string; name: string; code: string; initialState: unknown };
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
