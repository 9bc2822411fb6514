// The daily email quotas: recipients in the last 24 hours, per team (Team.emailQuotaPerDay ??
// EMAIL_QUOTA_PER_DAY) and per account, summed over every team of the same owner (User.emailQuotaPerDay
// ?? ACCOUNT_EMAIL_QUOTA_PER_DAY; a team without an owner is its own account). Reducers' emails and
// invites alike count.
import type { DbTx } from '../db/client.ts';
import { env } from '../env.ts';
import { AppError } from '../errors.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

export type QuotaTeam = { id: string; emailQuotaPerDay: number | null; accountId: string | null; account: { emailQuotaPerDay: number | null } | null };

/** What the quota's lock is taken on: the account, which holds the team. */
export function quotaLockKey(team: Pick<QuotaTeam, 'id' | 'accountId'>): string {
  return team.accountId ? `email-quota:user:${team.accountId}` : `email-quota:team:${team.id}`;
}

/**
 * Refuses an email of `recipients` recipients that would cross the team's or the account's quota,
 * naming which. Run under quotaLockKey's lock with the row's insert, so racing emails do not overshoot.
 */
export async function checkEmailQuotas({ team, recipients, db }: { team: QuotaTeam; recipients: number; db: DbTx }): Promise<void> {
  const since = new Date(Date.now() - DAY_MS);
  const sum = async (where: { teamId: string } | { team: { accountId: string } }) =>
    (await db.emailMessage.aggregate({ where: { ...where, createdAt: { gt: since } }, _sum: { recipients: true } }))._sum.recipients ?? 0;
  const teamQuota = team.emailQuotaPerDay ?? env().EMAIL_QUOTA_PER_DAY;
  const teamUsed = await sum({ teamId: team.id });
  if (teamUsed + recipients > teamQuota) {
    throw new AppError(
      'rate_limited',
      `This team's daily email quota would be crossed: ${teamUsed} of its ${teamQuota} recipients in the last 24 hours are used, and this email has ${plural(recipients)}. Nothing was sent; retry this effect later (effect.retry), or ask the operator for a higher quota (EMAIL_QUOTA_PER_DAY, or admin set-limits --team … --email-quota).`,
    );
  }
  const accountQuota = team.account?.emailQuotaPerDay ?? env().ACCOUNT_EMAIL_QUOTA_PER_DAY;
  // An e-mail quota across a team's owner's teams: EmailMessage is distributed by team, so on Citus this reads every shard (only when an email is sent).
  const accountUsed = team.accountId ? await sum({ team: { accountId: team.accountId } }) : teamUsed;
  if (accountUsed + recipients > accountQuota) {
    throw new AppError(
      'rate_limited',
      `The daily email quota of this team's account (all the teams of its owner together) would be crossed: ${accountUsed} of its ${accountQuota} recipients in the last 24 hours are used, and this email has ${plural(recipients)}. Nothing was sent; retry this effect later (effect.retry), or ask the operator for a higher quota (ACCOUNT_EMAIL_QUOTA_PER_DAY, or admin set-limits --user … --email-quota).`,
    );
  }
}

const plural = (n: number) => `${n} recipient${n === 1 ? '' : 's'}`;
