import type { Db } from '../db/client.ts';

type Code = { code: string };
const cache = new Map<string, Code>();

/** A reducer version's source. Versions never change once written, so they are cached for good. */
export async function loadReducerCode(streamId: string, reducerId: string, version: number, db: Db): Promise<Code> {
  const key = `${reducerId}:${version}`;
  let hit = cache.get(key);
  if (!hit) {
    const row = await db.reducerVersion.findUniqueOrThrow({ where: { streamId_reducerId_version: { streamId, reducerId, version } }, select: { code: true } });
    hit = { code: row.code };
    if (cache.size > 10_000) cache.clear();
    cache.set(key, hit);
  }
  return hit;
}
