// "Why did this go out?": the event that made a reducer record an effect, and the reducer's state
// right before and right after it, as folded by the version that recorded the effect.
import { db, sql } from '../db/client.ts';
import { readEvent } from '../streams/read-events.ts';
import { initialStateOf, lineageRoot, stateAt } from '../reducers/state-at.ts';
import { keyAt } from '../reducers/read-keys.ts';
import { loadReducerCode } from '../reducers/reducer-code.ts';

export type EffectCause = {
  version: number;
  /** A keyed reducer's effect: the key whose state is shown. */
  key?: string;
  event: { index: number; receivedAt: string; body: unknown } | null;
  stateBefore: unknown;
  stateAfter: unknown;
} | { unavailable: string };

export async function explainEffect({ streamId, reducerId, version, eventIndex, stateKey = null }: { streamId: string; reducerId: string; version: number; eventIndex: number; stateKey?: string | null }): Promise<EffectCause> {
  if (stateKey !== null) return explainKeyed({ streamId, reducerId, version, eventIndex, key: stateKey });
  const [stream] = await sql<{ slug: string; teamId: string; team: string }>(
    `SELECT s.slug, s."teamId", t.slug AS team FROM "Stream" s JOIN "Team" t ON t.id = s."teamId" WHERE s.id = $1::uuid`,
    [streamId],
  );
  if (!stream) return { unavailable: 'The stream is gone.' };
  const ref = { id: streamId, slug: stream.slug, team: stream.team, teamId: stream.teamId };
  try {
    const [event, before, after] = await Promise.all([
      readEvent({ streamId, index: eventIndex }),
      eventIndex > 0 ? stateAt({ stream: ref, reducerId, index: eventIndex - 1, version }).then((s) => s.stateJson) : initialStateOf(streamId, reducerId, version),
      stateAt({ stream: ref, reducerId, index: eventIndex, version }).then((s) => s.stateJson),
    ]);
    return {
      version,
      event: event ? { index: event.index, receivedAt: event.receivedAt.toISOString(), body: JSON.parse(event.bodyJson) as unknown } : null,
      stateBefore: JSON.parse(before) as unknown,
      stateAfter: JSON.parse(after) as unknown,
    };
  } catch (error) {
    return { unavailable: (error as Error).message };
  }
}

/** A keyed reducer's effect: its key's state before and after the event, from the key's history. */
async function explainKeyed({ streamId, reducerId, version, eventIndex, key }: { streamId: string; reducerId: string; version: number; eventIndex: number; key: string }): Promise<EffectCause> {
  try {
    const lineage = await lineageRoot(streamId, reducerId, version);
    const scope = { streamId, reducerId, lineage, key };
    const [event, before, after] = await Promise.all([
      readEvent({ streamId, index: eventIndex }),
      eventIndex > 0 ? keyAt({ ...scope, index: eventIndex - 1 }) : null,
      keyAt({ ...scope, index: eventIndex }),
    ]);
    if (!after) return { unavailable: `The key \`${key}\` has no history at event ${eventIndex} any more (it was deleted, or its version was replaced by a replay).` };
    return {
      version,
      key,
      event: event ? { index: event.index, receivedAt: event.receivedAt.toISOString(), body: JSON.parse(event.bodyJson) as unknown } : null,
      stateBefore: JSON.parse(before?.stateJson ?? (await loadReducerCode(streamId, reducerId, version, db())).initialJson) as unknown,
      stateAfter: JSON.parse(after.stateJson) as unknown,
    };
  } catch (error) {
    return { unavailable: (error as Error).message };
  }
}
