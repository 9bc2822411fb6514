// `pipet admin ...`: accounts and keys for self-hosters and scripts. `--json` prints exactly one
// JSON object on stdout and nothing else.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { withServices } from './services.ts';
import { createUser } from '../lib/server/auth/create-user.ts';
import { createApiKey } from '../lib/server/auth/api-keys.ts';
import { Scope } from '../lib/schemas/vocabulary.ts';
import { db } from '../lib/server/db/client.ts';
import { ensureStream } from '../lib/server/streams/ensure-stream.ts';
import { invalidate } from '../lib/server/auth/auth-cache.ts';

function describe(error: unknown): string {
  if (error instanceof z.ZodError) return error.issues.map((i) => i.message).join(' ');
  return error instanceof Error ? error.message : String(error);
}

/** A limit as given on the command line: a positive number, `default` (null: the deployment's), or absent (unchanged). */
const limit = z.union([z.literal('default').transform(() => null), z.coerce.number().int().positive()]).optional();

/**
 * One account's limits across all the teams it owns: how many teams it may own, its requests per
 * minute on /s/… and its emails a day (over all of its teams together).
 */
async function setAccountLimits(email: string, values: Record<string, string | boolean | undefined>): Promise<[string, object]> {
  const data = { maxTeams: limit.parse(values['max-teams']), rateLimitPerMinute: limit.parse(values['rate-limit']), emailQuotaPerDay: limit.parse(values['email-quota']) };
  const select = { id: true, email: true, maxTeams: true, rateLimitPerMinute: true, emailQuotaPerDay: true } as const;
  const user = await db().user.update({ where: { email: email.trim().toLowerCase() }, data, select }).catch(() => null);
  if (!user) throw new Error(`No account \`${email}\`.`);
  // Cached grants carry the account's limit: every team it answers for is invalidated.
  const teams = await db().team.findMany({ where: { accountId: user.id }, select: { id: true } });
  for (const t of teams) await invalidate({ kind: 'team', id: t.id });
  const { id: _id, ...limits } = user;
  return [
    `Account ${user.email}: ${user.maxTeams ?? 'default'} teams, ${user.rateLimitPerMinute ?? 'default'} requests per minute and ${user.emailQuotaPerDay ?? 'default'} emails a day across its teams.`,
    limits,
  ];
}

export async function runAdmin(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      email: { type: 'string' },
      password: { type: 'string' },
      team: { type: 'string' },
      scopes: { type: 'string' },
      stream: { type: 'string' },
      name: { type: 'string' },
      'rate-limit': { type: 'string' },
      'max-streams': { type: 'string' },
      'keys-per-reducer': { type: 'string' },
      'email-quota': { type: 'string' },
      user: { type: 'string' },
      'max-teams': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const out = (human: string, data: object) => process.stdout.write(values.json ? `${JSON.stringify(data)}\n` : `${human}\n`);

  await withServices({ quiet: true }, async () => {
    try {
      if (sub === 'create-user') {
        if (!values.email || !values.password) throw new Error('create-user needs --email and --password.');
        const { user, team } = await createUser({ email: values.email, password: values.password, teamSlug: values.team, verified: true });
        out(`Created ${user.email}, owner of team \`${team.slug}\`.`, { user, team });
      } else if (sub === 'create-key') {
        if (!values.team || !values.scopes) throw new Error('create-key needs --team and --scopes.');
        const scopes = z.array(Scope).parse(values.scopes.split(',').map((s) => s.trim()).filter(Boolean));
        const team = await db().team.findUnique({ where: { slug: values.team } });
        if (!team) throw new Error(`No team \`${values.team}\`.`);
        let streamId: string | null = null;
        if (values.stream) {
          const stream = await ensureStream({ teamId: team.id, teamSlug: team.slug, slug: values.stream, select: { id: true } });
          streamId = stream.id;
        }
        const key = await createApiKey({ teamId: team.id, name: values.name ?? `cli ${new Date().toISOString().slice(0, 10)}`, scopes, streamId });
        out(`${key.key}\n(shown once: store it now; scopes ${key.scopes.join(', ')})`, {
          key: key.key,
          id: key.id,
          prefix: key.prefix,
          scopes: key.scopes,
          team: team.slug,
          stream: values.stream ?? null,
        });
      } else if (sub === 'set-limits' && values.user) {
        out(...(await setAccountLimits(values.user, values)));
      } else if (sub === 'set-limits') {
        // An operator's lever: one team's limits above (or below) the deployment's defaults; `default` clears one.
        if (!values.team) throw new Error('set-limits needs --team (or --user), and --rate-limit, --max-streams, --email-quota and/or --keys-per-reducer (a number, or `default`).');
        const data = {
          rateLimitPerMinute: limit.parse(values['rate-limit']),
          maxStreams: limit.parse(values['max-streams']),
          emailQuotaPerDay: limit.parse(values['email-quota']),
          maxKeysPerReducer: limit.parse(values['keys-per-reducer']),
        };
        const select = { id: true, slug: true, rateLimitPerMinute: true, maxStreams: true, emailQuotaPerDay: true, maxKeysPerReducer: true } as const;
        const team = await db().team.update({ where: { slug: values.team }, data, select }).catch(() => null);
        if (!team) throw new Error(`No team \`${values.team}\`.`);
        await invalidate({ kind: 'team', id: team.id });
        out(
          `Team \`${team.slug}\`: ${team.rateLimitPerMinute ?? 'default'} requests per minute per key, ${team.maxStreams ?? 'default'} streams, ${team.emailQuotaPerDay ?? 'default'} emails a day, ${team.maxKeysPerReducer ?? 'default'} keys per keyed reducer.`,
          { slug: team.slug, rateLimitPerMinute: team.rateLimitPerMinute, maxStreams: team.maxStreams, emailQuotaPerDay: team.emailQuotaPerDay, maxKeysPerReducer: team.maxKeysPerReducer },
        );
      } else {
        throw new Error(`Unknown admin command \`${sub ?? ''}\`: use create-user, create-key or set-limits.`);
      }
    } catch (error) {
      throw new Error(describe(error));
    }
  });
}
