// "Why did this go out?": the event that made a reducer record an effect, and the reducer's state
// right before and right after it, as folded by the version that recorded the effect.
import { sql } from '../db/client.ts';
import { readEvent } from '../streams/read-events.ts';
import { initialStateOf, stateAt } from '../reducers/state-at.ts';

export type EffectCause = {
  version: number;
  event: { index: number; receivedAt: string; body: unknown } | null;
  stateBefore: unknown;
  stateAfter: unknown;
} | { unavailable: string };

export async function explainEffect({ streamId, reducerId, version, eventIndex }: { streamId: string; reducerId: string; version: number; eventIndex: number }): Promise<EffectCause> {
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
