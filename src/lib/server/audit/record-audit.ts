// Recording management actions in the team's audit log (`/s/{team}/_audit`), through the one append
// path. Where the router runs the action in its own transaction, the entry goes in that transaction
// (`audited`): both commit or neither does. Where the action commits inside a module of its own
// (member changes, invites, saving a reducer), the entry follows in a transaction of its own
// (`recordAudit`): a crash between the two commits can lose that one entry, never invent one.
import type { Db, DbTx } from '../db/client.ts';
import { ensureSystemStream } from '../streams/ensure-stream.ts';
import { streamIdFor } from '../streams/stream-id.ts';
import { appendEvents } from '../streams/append-events.ts';
import { publishAppended } from '../streams/tail-events.ts';
import { requestFold } from '../queue/enqueue.ts';
import type { Caller } from '../auth/caller.ts';
import { actorOf, type AuditAction, type AuditEntry, type AuditTarget } from './audit-entry.ts';
import { AUDIT_STREAM_NAME, AUDIT_STREAM_SLUG } from './audit-stream.ts';

/** What recording needs of a tRPC context: the database, who is calling, and from where. */
export type AuditContext = { db: Db; caller: Caller; clientAddress: string };

/** The teams whose logs get the entry (a person's session ending goes to each of their teams' logs). */
type Teams = { id: string; slug: string }[];

/** What happened: the action and what it was done to. */
export type AuditRecord = { action: AuditAction; target: AuditTarget };

type Appended = { streamId: string; teamId: string; length: number };

/**
 * Makes each team's log on first use, before the action's transaction and in statements of their
 * own: created inside it, the new row (and its foreign key's lock on the team) could deadlock with
 * another action that holds the team's row while it waits for the log.
 */
async function ensureLogs(db: Db, teams: Teams): Promise<void> {
  for (const team of teams) await ensureSystemStream({ teamId: team.id, teamSlug: team.slug, slug: AUDIT_STREAM_SLUG, name: AUDIT_STREAM_NAME }, db);
}

/** Appends the entry to each team's log inside `tx`. Readers are woken by the caller, after commit. */
async function appendEntry(tx: DbTx, ctx: AuditContext, teams: Teams, record: AuditRecord): Promise<Appended[]> {
  if (teams.length === 0) return [];
  const entry: AuditEntry = {
    action: record.action,
    at: new Date().toISOString(),
    actor: await actorOf(ctx.caller, tx),
    address: ctx.clientAddress && ctx.clientAddress !== 'unknown' ? ctx.clientAddress : null,
    target: record.target,
  };
  const appended: Appended[] = [];
  for (const team of teams) {
    const streamId = streamIdFor(team.slug, AUDIT_STREAM_SLUG);
    // With a transaction client, appendEvents runs its one statement inside it.
    const { length } = await appendEvents({ streamId, bodies: [entry], db: tx as Db });
    appended.push({ streamId, teamId: team.id, length });
  }
  return appended;
}

/**
 * appendEvents wakes the fold and the live tails as it returns, which inside a transaction is before
 * the entry is visible; this wakes them again once it is.
 */
function wake(appended: Appended[]): void {
  for (const a of appended) {
    requestFold({ streamId: a.streamId, teamId: a.teamId });
    publishAppended(a.streamId, a.length);
  }
}

/**
 * Runs `work` and records what it did in the same transaction: the action and its entry commit
 * together or not at all. `describe` reads the action's result (null records nothing: nothing changed).
 */
export async function audited<T>(
  ctx: AuditContext,
  teams: Teams,
  work: (tx: DbTx) => Promise<T>,
  describe: (result: T, tx: DbTx) => AuditRecord | null | Promise<AuditRecord | null>,
): Promise<T> {
  await ensureLogs(ctx.db, teams);
  let appended: Appended[] = [];
  const result = await ctx.db.$transaction(async (tx) => {
    const done = await work(tx);
    const record = await describe(done, tx);
    if (record) appended = await appendEntry(tx, ctx, teams, record);
    return done;
  });
  wake(appended);
  return result;
}

/**
 * Records an action that has already committed, in a transaction of its own. The action stands
 * whatever happens here: a failure to record is logged, not thrown at a caller whose change was made.
 */
export async function recordAudit(ctx: AuditContext, teams: Teams, record: AuditRecord): Promise<void> {
  try {
    await ensureLogs(ctx.db, teams);
    wake(await ctx.db.$transaction((tx) => appendEntry(tx, ctx, teams, record)));
  } catch (error) {
    console.error(`audit: could not record ${record.action}`, error);
  }
}
