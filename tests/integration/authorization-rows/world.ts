// The authorization matrix's vocabulary: the callers, the outcomes, a fresh world of fixtures per
// case, and presets for the common role requirements. Row files (one per router) import from here.
import { randomBytes } from 'node:crypto';
import type { Db } from '../../../src/lib/server/db/client.ts';
import { createApiKey } from '../../../src/lib/server/auth/api-keys.ts';
import { hashToken, randomToken } from '../../../src/lib/server/crypto.ts';
import { createTeam } from '../../../src/lib/server/teams/create-team.ts';
import { streamIdFor } from '../../../src/lib/server/streams/stream-id.ts';

export const CALLERS = ['anonymous', 'nonMember', 'member', 'admin', 'owner', 'manageKey', 'otherTeamKey', 'revokedKey', 'ingestKey'] as const;
export type CallerName = (typeof CALLERS)[number];

/** `ok`, or the tRPC error code the call must fail with. */
export type Outcome = 'ok' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'BAD_REQUEST' | 'CONFLICT';

type User = { id: string; email: string };

/** Everything a row may refer to; made afresh for every (procedure, caller) case, so mutations can't interfere. */
export type World = {
  db: Db;
  team: { id: string; slug: string };
  otherTeam: { id: string; slug: string };
  users: { owner: User; admin: User; member: User; nonMember: User; /** a plain member to act on */ target: User };
  stream: { id: string; slug: string };
  keys: { manage: string; ingest: string; revoked: string; otherTeam: string; /** a live read key of the team, to revoke */ spareId: string };
  invite: { id: string; token: string };
};

export type MatrixRow = {
  /** The procedure's input for this world (may create extra fixtures through `w.db`). */
  input: (w: World, caller: CallerName) => unknown | Promise<unknown>;
  expect: Record<CallerName, Outcome>;
};
export type MatrixRows = Record<string, MatrixRow>;

const UNAUTH_AND_KEYS = { anonymous: 'UNAUTHORIZED', revokedKey: 'UNAUTHORIZED', ingestKey: 'FORBIDDEN' } as const;

/** Presets: who may call a procedure scoped to the input's team. Outsiders get NOT_FOUND, never FORBIDDEN. */
export const PRESETS = {
  anyMember: { ...UNAUTH_AND_KEYS, nonMember: 'NOT_FOUND', member: 'ok', admin: 'ok', owner: 'ok', manageKey: 'ok', otherTeamKey: 'NOT_FOUND' },
  adminUp: { ...UNAUTH_AND_KEYS, nonMember: 'NOT_FOUND', member: 'FORBIDDEN', admin: 'ok', owner: 'ok', manageKey: 'ok', otherTeamKey: 'NOT_FOUND' },
  ownerOnly: { ...UNAUTH_AND_KEYS, nonMember: 'NOT_FOUND', member: 'FORBIDDEN', admin: 'FORBIDDEN', owner: 'ok', manageKey: 'FORBIDDEN', otherTeamKey: 'NOT_FOUND' },
  /** Account-level: a signed-in person, never a key. */
  personOnly: { ...UNAUTH_AND_KEYS, nonMember: 'ok', member: 'ok', admin: 'ok', owner: 'ok', manageKey: 'FORBIDDEN', otherTeamKey: 'FORBIDDEN' },
  everyone: { anonymous: 'ok', nonMember: 'ok', member: 'ok', admin: 'ok', owner: 'ok', manageKey: 'ok', otherTeamKey: 'ok', revokedKey: 'ok', ingestKey: 'ok' },
} as const satisfies Record<string, Record<CallerName, Outcome>>;

/** A preset with some callers' outcomes changed. */
export function expecting(preset: keyof typeof PRESETS, overrides: Partial<Record<CallerName, Outcome>> = {}): Record<CallerName, Outcome> {
  return { ...PRESETS[preset], ...overrides };
}

export function unique(base: string): string {
  return `${base}-${randomBytes(4).toString('hex')}`;
}

async function makeUser(db: Db, role: string): Promise<User> {
  const email = `${unique(role)}@example.com`;
  const u = await db.user.create({ data: { email, passwordHash: 'not-a-hash' }, select: { id: true, email: true } });
  return u;
}

export async function makeWorld(db: Db): Promise<World> {
  const [owner, admin, member, nonMember, target, otherOwner] = await Promise.all(['owner', 'admin', 'member', 'nonmember', 'target', 'other'].map((r) => makeUser(db, r)));
  const team = await createTeam({ slug: unique('mx'), ownerId: owner.id, db });
  const otherTeam = await createTeam({ slug: unique('mx-other'), ownerId: otherOwner.id, db });
  await db.membership.createMany({
    data: [
      { teamId: team.id, userId: admin.id, role: 'admin' },
      { teamId: team.id, userId: member.id, role: 'member' },
      { teamId: team.id, userId: target.id, role: 'member' },
    ],
  });
  const stream = await db.stream.create({ data: { id: streamIdFor(team.slug, 'events'), teamId: team.id, slug: 'events', name: 'events' }, select: { id: true, slug: true } });
  const [manage, ingest, revoked, other, spare] = await Promise.all([
    createApiKey({ teamId: team.id, name: 'manage', scopes: ['manage'], db }),
    createApiKey({ teamId: team.id, name: 'ingest', scopes: ['ingest'], db }),
    createApiKey({ teamId: team.id, name: 'revoked', scopes: ['manage', 'read', 'ingest'], db }),
    createApiKey({ teamId: otherTeam.id, name: 'other', scopes: ['manage'], db }),
    createApiKey({ teamId: team.id, name: 'spare', scopes: ['read'], db }),
  ]);
  await db.apiKey.update({ where: { id: revoked.id }, data: { revokedAt: new Date() } });
  const token = randomToken(20);
  const invite = await db.invite.create({
    data: { teamId: team.id, email: `${unique('invitee')}@example.com`, role: 'member', tokenHash: hashToken(token), invitedById: owner.id, expiresAt: new Date(Date.now() + 86_400_000) },
    select: { id: true },
  });
  return {
    db,
    team: { id: team.id, slug: team.slug },
    otherTeam: { id: otherTeam.id, slug: otherTeam.slug },
    users: { owner, admin, member, nonMember, target },
    stream,
    keys: { manage: manage.key, ingest: ingest.key, revoked: revoked.key, otherTeam: other.key, spareId: spare.id },
    invite: { id: invite.id, token },
  };
}
