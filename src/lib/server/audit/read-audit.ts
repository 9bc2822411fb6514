// Reading a team's audit log, newest first, filtered by action, actor and time. Each call scans a
// bounded window of the log's indices (AUDIT_SCAN_WINDOW) backwards from `before`, so a filter that
// matches little costs the same as one that matches much; `next` continues where it stopped.
import type { DbTx } from '../db/client.ts';
import { streamIdFor } from '../streams/stream-id.ts';
import type { AuditAction, AuditEntry } from './audit-entry.ts';
import { AUDIT_STREAM_SLUG } from './audit-stream.ts';

export const AUDIT_SCAN_WINDOW = 10_000;

export type ReadAuditOptions = {
  team: { id: string; slug: string };
  action?: AuditAction;
  /** A person's email or id (their keys' actions included), or a key's id or prefix. */
  actor?: string;
  /** Entries older than this index: the previous page's `next`. */
  before?: number;
  since?: Date;
  until?: Date;
  limit: number;
  db: DbTx;
};

export type AuditListEntry = AuditEntry & { index: number; receivedAt: Date };

export async function readAudit({ team, action, actor, before, since, until, limit, db }: ReadAuditOptions): Promise<{ entries: AuditListEntry[]; next: number | null; length: number }> {
  const streamId = streamIdFor(team.slug, AUDIT_STREAM_SLUG);
  const stream = await db.stream.findUnique({ where: { id: streamId, teamId: team.id }, select: { length: true } });
  if (!stream) return { entries: [], next: null, length: 0 };
  const upper = Math.min(before ?? stream.length, stream.length);
  const lower = Math.max(0, upper - AUDIT_SCAN_WINDOW);
  const values: unknown[] = [streamId, lower, upper];
  const where: string[] = [];
  const param = (value: unknown) => `$${values.push(value)}`;
  if (action) where.push(`body->>'action' = ${param(action)}`);
  if (actor) {
    const p = param(actor);
    where.push(
      `(lower(body->'actor'->>'email') = lower(${p}) OR body->'actor'->>'id' = ${p} OR body->'actor'->>'prefix' = ${p}
        OR lower(body->'actor'->'createdBy'->>'email') = lower(${p}) OR body->'actor'->'createdBy'->>'id' = ${p})`,
    );
  }
  if (since) where.push(`"receivedAt" >= ${param(since)}::timestamptz`);
  if (until) where.push(`"receivedAt" < ${param(until)}::timestamptz`);
  const rows = await db.$queryRawUnsafe<{ index: number; body: AuditEntry; receivedAt: Date }[]>(
    `SELECT "index", body, "receivedAt" FROM "Event"
     WHERE "streamId" = $1::uuid AND "index" >= $2 AND "index" < $3 ${where.map((w) => `AND ${w}`).join(' ')}
     ORDER BY "index" DESC LIMIT ${param(limit + 1)}`,
    ...values,
  );
  const page = rows.slice(0, limit);
  const next = rows.length > limit ? page[page.length - 1].index : lower > 0 ? lower : null;
  return { entries: page.map((r) => ({ ...r.body, index: r.index, receivedAt: r.receivedAt })), next, length: stream.length };
}
