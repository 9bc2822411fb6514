// Creating streams, within the team's cap (MAX_STREAMS_PER_TEAM, or the team's own limit).
import { db as defaultDb, type Db, type DbTx } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { env } from '../env.ts';

/**
 * Refuses a new stream when the team has as many as it may. Takes the team's row lock, so run it in
 * the transaction that creates the stream: two creations racing cannot both pass.
 */
export async function assertStreamCapacity(teamId: string, db: DbTx): Promise<void> {
  const [row] = await db.$queryRaw<{ max: number | null; n: number }[]>`
    SELECT t."maxStreams" AS max, (SELECT count(*)::int FROM "Stream" s WHERE s."teamId" = t.id) AS n
    FROM "Team" t WHERE t.id = ${teamId}::uuid FOR UPDATE OF t`;
  const max = row?.max ?? env().MAX_STREAMS_PER_TEAM;
  if (row && row.n >= max) throw new AppError('conflict', `This team has ${row.n} streams, its limit; delete one first or ask us to raise the limit.`);
}

/** The team's stream with this slug, created if missing (within the cap); safe when many writers race. */
export async function ensureStream<S extends Record<string, boolean>>({ teamId, slug, select, db = defaultDb() }: { teamId: string; slug: string; select: S; db?: Db }) {
  const found = await db.stream.findUnique({ where: { teamId_slug: { teamId, slug } }, select });
  if (found) return found;
  await db.$transaction(async (tx) => {
    await assertStreamCapacity(teamId, tx);
    await tx.stream.createMany({ data: [{ teamId, slug, name: slug }], skipDuplicates: true });
  });
  return db.stream.findUniqueOrThrow({ where: { teamId_slug: { teamId, slug } }, select });
}
