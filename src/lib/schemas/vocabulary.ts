// The product's shared vocabulary: names, roles, scopes, effect kinds and statuses. Plain zod, no
// server imports, so routers, route params, pages and the CLI all read the same definitions.
import { z } from 'zod';

/**
 * Team, stream and reducer names: what appears in `/s/{team}/{stream}` URLs. Its source is also the
 * forms' `pattern` attribute, which browsers compile with the `v` flag: there a `-` in a class must be escaped.
 */
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9\-]{0,62}$/;
export const SLUG_RULE = '1-63 lowercase letters, digits and dashes, starting with a letter or digit';
export const Slug = z.string().regex(SLUG_PATTERN, `Use ${SLUG_RULE}.`);
export const isSlug = (value: string): boolean => SLUG_PATTERN.test(value);

export const ROLES = ['owner', 'admin', 'member'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;
const RANK: Record<Role, number> = { member: 1, admin: 2, owner: 3 };
/** owner > admin > member */
export const atLeast = (role: Role, min: Role): boolean => RANK[role] >= RANK[min];

export const SCOPES = ['ingest', 'read', 'manage'] as const;
export const Scope = z.enum(SCOPES);
export type Scope = z.infer<typeof Scope>;

export const EFFECT_KINDS = ['webhook', 'email', 'timer', 'slack', 'cancel'] as const;
export const EffectKind = z.enum(EFFECT_KINDS);
export type EffectKind = z.infer<typeof EffectKind>;

export const EFFECT_STATUSES = ['pending', 'delivered', 'failed', 'suppressed', 'cancelled'] as const;
export const EffectStatus = z.enum(EFFECT_STATUSES);
export type EffectStatus = z.infer<typeof EffectStatus>;

export const REDUCER_STATUSES = ['active', 'errored', 'paused'] as const;
export type ReducerStatus = (typeof REDUCER_STATUSES)[number];

/** The most calls one /api/trpc request may batch: the server answers more with 400, the client splits. */
export const TRPC_MAX_BATCH_SIZE = 20;
