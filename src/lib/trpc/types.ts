// What the management API returns and takes, for components' props (types only, no server code).
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '$lib/server/trpc/root.ts';

export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type ReducerSummary = RouterOutputs['reducer']['list'][number];
export type DryRunResult = RouterOutputs['reducer']['dryRun'];
