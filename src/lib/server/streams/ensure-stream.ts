// Creating streams, within the team's cap (MAX_STREAMS_PER_TEAM, or the team's own limit). A
// stream's id is derived from its slugs (stream-id.ts), so creating one twice is a conflict on the
// primary key: `ON CONFLICT (id) DO NOTHING`, one shard on Citus. System streams (the audit log)
// are Pipet's own: made here with `system = true`, outside the cap, under a name no slug can take.
import { db as defaultDb, type Db, type DbTx } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { env } from '../env.ts';
import { streamIdFor } from './stream-id.ts';
import { isSlug, SLUG_RULE } from '../../schemas/vocabulary.ts';

/**
 * Refuses a new stream when the team has as many as it may. Takes the team's row lock, so run it in
 * the transaction that creates the stream: two creations racing cannot both pass.
 */
export async function assertStreamCapacity(teamId: string, db: DbTx): Promise<void> {
  // Two statements: the lock on the team (a reference table on Citus), then the count, which reads
  // every Stream shard (creation is rare; a correlated subquery not on the distribution column is
  // refused by Citus). The team's system streams are Pipet's, and count against no one.
  const [team] = await db.$queryRaw<{ max: number | null }[]>`SELECT "maxStreams" AS max FROM "Team" WHERE id = ${teamId}::uuid FOR UPDATE`;
  if (!team) return;
  const [{ n }] = await db.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM "Stream" WHERE "teamId" = ${teamId}::uuid AND NOT system`;
  const max = team.max ?? env().MAX_STREAMS_PER_TEAM;
  if (n >= max) throw new AppError('conflict', `This team has ${n} streams, its limit; delete one first or ask us to raise the limit.`);
}

export type InsertStreamOptions = { teamId: string; teamSlug: string; slug: string; name?: string };

/** Inserts the stream unless it exists; whether this call created it. Run it after assertStreamCapacity, in its transaction. */
export async function insertStream({ teamId, teamSlug, slug, name = slug }: InsertStreamOptions, db: DbTx): Promise<boolean> {
  // Every caller checks the slug already; this keeps a system stream's name out of reach whatever the path.
  if (!isSlug(slug)) throw new AppError('bad_request', `Stream names are ${SLUG_RULE}.`);
  const inserted = await db.$executeRaw`
    INSERT INTO "Stream" (id, "teamId", slug, name) VALUES (${streamIdFor(teamSlug, slug)}::uuid, ${teamId}::uuid, ${slug}, ${name})
    ON CONFLICT (id) DO NOTHING`;
  return inserted === 1;
}

/**
 * The team's stream with this slug, created if missing (within the cap); safe when many writers race.
 * `teamSlug` saves a lookup of the team's slug (the stream id is derived from both slugs).
 */
export async function ensureStream<S extends Record<string, boolean>>({ teamId, teamSlug, slug, select, db = defaultDb() }: { teamId: string; teamSlug?: string; slug: string; select: S; db?: Db }) {
  // Never a system stream's name: what this finds or makes, a key may be limited to and append to.
  if (!isSlug(slug)) throw new AppError('bad_request', `Stream names are ${SLUG_RULE}.`);
  const team = teamSlug ?? (await db.team.findUniqueOrThrow({ where: { id: teamId }, select: { slug: true } })).slug;
  const id = streamIdFor(team, slug);
  const found = await db.stream.findUnique({ where: { id }, select });
  if (found) return found;
  await db.$transaction(async (tx) => {
    await assertStreamCapacity(teamId, tx);
    await insertStream({ teamId, teamSlug: team, slug }, tx);
  });
  return db.stream.findUniqueOrThrow({ where: { id }, select });
}

/**
 * A system stream of the team (the audit log), made on first use: `system = true`, outside the
 * team's cap. Safe inside any transaction and when many race; returns its id.
 */
export async function ensureSystemStream({ teamId, teamSlug, slug, name }: { teamId: string; teamSlug: string; slug: string; name: string }, db: DbTx): Promise<string> {
  const id = streamIdFor(teamSlug, slug);
  await db.$executeRaw`
    INSERT INTO "Stream" (id, "teamId", slug, name, system) VALUES (${id}::uuid, ${teamId}::uuid, ${slug}, ${name}, true)
    ON CONFLICT (id) DO NOTHING`;
  return id;
}
