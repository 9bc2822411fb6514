import type { Db } from '../db/client.ts';

/** A version's source, its keyBy (keyed reducers) and its initial state as JSON text. */
export type ReducerCode = { code: string; keyBy: string | null; initialJson: string };
const cache = new Map<string, ReducerCode>();

/** A reducer version's source. Versions never change once written, so they are cached for good. */
export async function loadReducerCode(streamId: string, reducerId: string, version: number, db: Db): Promise<ReducerCode> {
  const key = `${reducerId}:${version}`;
  let hit = cache.get(key);
  if (!hit) {
    const row = await db.reducerVersion.findUniqueOrThrow({ where: { streamId_reducerId_version: { streamId, reducerId, version } }, select: { code: true, keyBy: true, initialState: true } });
    hit = { code: row.code, keyBy: row.keyBy, initialJson: JSON.stringify(row.initialState ?? null) };
    if (cache.size > 10_000) cache.clear();
    cache.set(key, hit);
  }
  return hit;
}
