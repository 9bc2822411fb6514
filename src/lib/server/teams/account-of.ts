// The account a team counts against (Team.accountId, its owner; the team itself when it has none),
// for fairness in the worker: shares of job slots and sandbox turns go per account, so a person who
// spreads work over many teams gets one share, not one per team. Cached per process for a minute: a
// transfer of ownership is rare, and until the cache turns the team keeps its old account's share.
import { sql } from '../db/client.ts';
import { accountKey } from '../rate-limit.ts';

const TTL_MS = 60_000;
const MAX_ENTRIES = 10_000;
const known = new Map<string, { key: string; at: number }>();

export async function accountOf(teamId: string): Promise<string> {
  const hit = known.get(teamId);
  if (hit && Date.now() - hit.at < TTL_MS) return hit.key;
  const [row] = await sql<{ accountId: string | null }>(`SELECT "accountId" FROM "Team" WHERE id = $1::uuid`, [teamId]);
  const key = accountKey({ id: teamId, accountId: row?.accountId ?? null });
  if (known.size >= MAX_ENTRIES) known.delete(known.keys().next().value!);
  known.set(teamId, { key, at: Date.now() });
  return key;
}
