// Sender domains: a team proves it controls a domain with a DNS TXT record before its emails may
// go From an address there. Add → a token to publish; verify → a TXT lookup through node:dns
// (DNS_SERVERS, when set, are the only servers asked); list; remove.
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { z } from 'zod';
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { env } from '../env.ts';
import { AppError } from '../errors.ts';
import { randomToken } from '../crypto.ts';
import { emailSender, type EmailSender } from './email-sender.ts';

/** Where the TXT record goes, under the domain. */
export const RECORD_PREFIX = '_pipet-verify';
const TOKEN_PREFIX = 'pipet-verify=';
const MAX_DOMAINS_PER_TEAM = 20;

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A domain name as a person types it: lowercased, without a trailing dot, at least two labels. */
export const DomainName = z
  .string()
  .trim()
  .toLowerCase()
  .transform((d) => d.replace(/\.$/, ''))
  .refine((d) => d.length <= 253 && !isIP(d) && d.split('.').length >= 2 && d.split('.').every((l) => LABEL.test(l)), {
    message: 'Use a domain name like "acme.example" (letters, digits and dashes; no scheme, path or @).',
  });

const select = { domain: true, token: true, verifiedAt: true, lastCheckedAt: true, lastError: true, createdAt: true } as const;
type Row = { domain: string; token: string; verifiedAt: Date | null; lastCheckedAt: Date | null; lastError: string | null; createdAt: Date };

/** What the API shows: the record to publish, and where verification stands. */
export function describeDomain(row: Row) {
  return {
    domain: row.domain,
    record: { type: 'TXT' as const, name: `${RECORD_PREFIX}.${row.domain}`, value: `${TOKEN_PREFIX}${row.token}` },
    verified: row.verifiedAt !== null,
    verifiedAt: row.verifiedAt,
    lastCheckedAt: row.lastCheckedAt,
    lastError: row.lastError,
    createdAt: row.createdAt,
  };
}
export type SenderDomainView = ReturnType<typeof describeDomain>;

type TeamScoped = { teamId: string; db?: DbTx };

/** Adds a domain to verify (adding one already there returns it, with the same token). */
export async function addSenderDomain({ teamId, domain, db = defaultDb() }: TeamScoped & { domain: string }): Promise<SenderDomainView> {
  const existing = await db.senderDomain.findUnique({ where: { teamId_domain: { teamId, domain } }, select });
  if (existing) return describeDomain(existing);
  if ((await db.senderDomain.count({ where: { teamId } })) >= MAX_DOMAINS_PER_TEAM) {
    throw new AppError('bad_request', `A team can have at most ${MAX_DOMAINS_PER_TEAM} sender domains; remove one first.`);
  }
  const row = await db.senderDomain.upsert({
    where: { teamId_domain: { teamId, domain } },
    create: { teamId, domain, token: randomToken(20) },
    update: {},
    select,
  });
  return describeDomain(row);
}

export async function listSenderDomains({ teamId, db = defaultDb() }: TeamScoped): Promise<SenderDomainView[]> {
  const rows = await db.senderDomain.findMany({ where: { teamId }, select, orderBy: { domain: 'asc' } });
  return rows.map(describeDomain);
}

export async function removeSenderDomain({ teamId, domain, db = defaultDb() }: TeamScoped & { domain: string }): Promise<{ removed: string }> {
  const { count } = await db.senderDomain.deleteMany({ where: { teamId, domain } });
  if (count === 0) throw new AppError('not_found', `No sender domain \`${domain}\` in this team.`);
  return { removed: domain };
}

export type TxtLookup = (name: string) => Promise<string[][]>;

/** A TXT lookup on DNS_SERVERS (else the system's resolvers), bounded in time. */
export function resolveTxt(name: string): Promise<string[][]> {
  const resolver = new Resolver({ timeout: 3_000, tries: 2 });
  const servers = env().DNS_SERVERS;
  if (servers) resolver.setServers(servers);
  return resolver.resolveTxt(name);
}

/**
 * Looks the domain's TXT record up and records the outcome: verified (kept verified from then on),
 * or why not — no record yet, a record with another value, or a DNS failure.
 */
export async function verifySenderDomain({ teamId, domain, lookup = resolveTxt, db = defaultDb() }: TeamScoped & { domain: string; lookup?: TxtLookup }): Promise<SenderDomainView> {
  const row = await db.senderDomain.findUnique({ where: { teamId_domain: { teamId, domain } }, select });
  if (!row) throw new AppError('not_found', `No sender domain \`${domain}\` in this team; add it first.`);
  if (row.verifiedAt) return describeDomain(row);
  const { record } = describeDomain(row);
  let problem: string | null = null;
  try {
    const found = (await lookup(record.name)).map((chunks) => chunks.join(''));
    if (!found.includes(record.value)) {
      problem = `The TXT record at ${record.name} does not hold \`${record.value}\` (found ${found.length === 0 ? 'none' : found.map((v) => `\`${v.slice(0, 100)}\``).join(', ')}).`;
    }
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as Error).message;
    problem =
      code === 'ENOTFOUND' || code === 'ENODATA'
        ? `No TXT record at ${record.name} yet. Publish it with the value \`${record.value}\`; DNS changes can take a while to spread.`
        : `The DNS lookup of ${record.name} failed (${code}); try again shortly.`;
  }
  const now = new Date();
  const updated = await db.senderDomain.update({
    where: { teamId_domain: { teamId, domain } },
    data: problem ? { lastCheckedAt: now, lastError: problem } : { lastCheckedAt: now, lastError: null, verifiedAt: now },
    select,
  });
  return describeDomain(updated);
}

/** The team's verified domains, for choosing an email's sender. */
export async function verifiedSenderDomains(teamId: string, db: DbTx = defaultDb()): Promise<string[]> {
  const rows = await db.senderDomain.findMany({ where: { teamId, verifiedAt: { not: null } }, select: { domain: true } });
  return rows.map((r) => r.domain);
}

/** Who the team's emails are from right now, and where replies go. */
export async function teamEmailSender(team: { id: string; name: string; emailFrom: string | null }, db: DbTx = defaultDb()): Promise<EmailSender> {
  const verifiedDomains = await verifiedSenderDomains(team.id, db);
  return emailSender({ teamName: team.name, emailFrom: team.emailFrom, verifiedDomains, pipetFrom: env().EMAIL_FROM });
}
