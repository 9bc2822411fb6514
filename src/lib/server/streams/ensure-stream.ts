import { db as defaultDb, type DbTx } from '../db/client.ts';

/** The team's stream with this slug, created if missing; safe when many writers race to create it. */
export async function ensureStream<S extends Record<string, boolean>>({ teamId, slug, select, db = defaultDb() }: { teamId: string; slug: string; select: S; db?: DbTx }) {
  await db.stream.createMany({ data: [{ teamId, slug, name: slug }], skipDuplicates: true });
  return db.stream.findUniqueOrThrow({ where: { teamId_slug: { teamId, slug } }, select });
}
