// A team and its owner's membership, with a fresh webhook signing secret.
import { encodeBase64 } from '@oslojs/encoding';
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { env } from '../env.ts';
import { isSlug, SLUG_RULE } from '../../schemas/vocabulary.ts';

/** Top-level paths of the app: a team with one of these slugs would be shadowed by the route. */
export const RESERVED_TEAM_SLUGS = new Set(['api', 's', 'login', 'signup', 'logout', 'invite', 'thanks', 'new', 'settings', 'account', 'admin', 'static', 'assets', 'app', 'docs', 'demo', 'v1']);

export function newSigningSecret(): string {
  return `whsec_${encodeBase64(crypto.getRandomValues(new Uint8Array(24)))}`;
}

export type CreateTeamOptions = { slug: string; name?: string; ownerId: string; personal?: boolean; db?: DbTx };

/**
 * A new team owned by `ownerId`, who becomes its account. Run it in a transaction (`db` a
 * transaction client): the owner's row is locked while their teams are counted, so concurrent
 * creations (a batch of twenty in one request) cannot pass the limit together.
 */
export async function createTeam({ slug, name, ownerId, personal = false, db = defaultDb() }: CreateTeamOptions) {
  if (!isSlug(slug)) throw new AppError('bad_request', `Team slugs are ${SLUG_RULE}.`);
  if (RESERVED_TEAM_SLUGS.has(slug)) throw new AppError('conflict', `The team name \`${slug}\` is reserved.`);
  await checkTeamsPerAccount(ownerId, db);
  const taken = await db.team.findUnique({ where: { slug }, select: { id: true } });
  if (taken) throw new AppError('conflict', `The team name \`${slug}\` is taken.`);
  return db.team.create({
    data: { slug, name: name ?? slug, personal, accountId: ownerId, signingSecret: newSigningSecret(), members: { create: { userId: ownerId, role: 'owner' } } },
  });
}

/** Refuses one more team for `userId` when they already own their limit (User.maxTeams, else TEAMS_PER_ACCOUNT); locks the user's row until the transaction ends. */
export async function checkTeamsPerAccount(userId: string, db: DbTx): Promise<void> {
  const [user] = await db.$queryRaw<{ maxTeams: number | null }[]>`SELECT "maxTeams" FROM "User" WHERE id = ${userId}::uuid FOR UPDATE`;
  if (!user) throw new AppError('not_found', 'No such account.');
  const limit = user.maxTeams ?? env().TEAMS_PER_ACCOUNT;
  const owned = await db.team.count({ where: { accountId: userId } });
  if (owned >= limit) {
    throw new AppError('forbidden', `An account may own ${limit} teams, and this one owns ${owned}. Delete a team you no longer use, or ask the operator for more (admin set-limits --user).`);
  }
}

/** A free slug derived from `base` (an email's local part, a name): `ada`, `ada-2`, ... */
export async function freeTeamSlug(base: string, db: DbTx = defaultDb()): Promise<string> {
  const root = base.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'team';
  for (let n = 1; ; n++) {
    const slug = n === 1 ? root : `${root}-${n}`;
    if (RESERVED_TEAM_SLUGS.has(slug)) continue;
    if (!(await db.team.findUnique({ where: { slug }, select: { id: true } }))) return slug;
  }
}
