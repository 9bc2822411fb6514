// Teams: the caller's teams, create, rename, settings, signing secret, transfer and delete.
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import { createTeam, newSigningSecret } from '../../teams/create-team.ts';
import { transferOwnership } from '../../teams/manage-members.ts';
import { ADDRESS } from '../../effects/kinds/define.ts';
import { formatMailbox } from '../../effects/email-sender.ts';
import { teamEmailSender } from '../../effects/sender-domains.ts';
import { readFirstRun } from '../../teams/read-first-run.ts';
import { readKeyedStorage } from '../../teams/read-keyed-storage.ts';
import { consume, limiter, SCAN_RATE_LIMIT_PER_MINUTE } from '../../rate-limit.ts';
import { Slug as TeamSlug } from '../../../schemas/vocabulary.ts';
import { invalidate } from '../../auth/auth-cache.ts';
import { router, teamProcedure, teamRoleProcedure, userProcedure } from '../init.ts';
import { audited, recordAudit } from '../../audit/record-audit.ts';

const TeamName = z.string().trim().min(1, 'Give the team a name.').max(100);

const settingsSelect = { slug: true, name: true, personal: true, autoCreateStreams: true, emailFrom: true, requireTwoFactor: true, createdAt: true } as const;

/** The team's sender: the Reply-To of its emails, and their From once its domain is verified (senderDomain). */
const EmailFrom = z
  .string()
  .trim()
  .max(320)
  .refine((v) => v === '' || ADDRESS.test(v), 'Use an address like "hello@acme.example" or "Acme <hello@acme.example>".')
  .nullable();

export const teamRouter = router({
  /** The signed-in person's teams with their role, personal team first. */
  list: userProcedure.query(async ({ ctx }) => {
    const memberships = await ctx.db.membership.findMany({
      where: { userId: ctx.caller.userId },
      select: { role: true, team: { select: { slug: true, name: true, personal: true } } },
      orderBy: [{ team: { personal: 'desc' } }, { team: { slug: 'asc' } }],
    });
    return memberships.map((m) => ({ ...m.team, role: m.role }));
  }),

  get: teamProcedure.query(async ({ ctx }) => {
    const team = await ctx.db.team.findUniqueOrThrow({ where: { id: ctx.team.id }, select: settingsSelect });
    const sender = await teamEmailSender({ id: ctx.team.id, name: team.name, emailFrom: team.emailFrom }, ctx.db);
    return { ...team, role: ctx.role, emailSender: { from: formatMailbox(sender.from), replyTo: sender.replyTo, verified: sender.verified } };
  }),

  /** The first-run checklist: a key, a first event, a reducer, a recipe. */
  firstRun: teamProcedure.query(({ ctx }) => readFirstRun({ teamId: ctx.team.id, db: ctx.db })),

  /** The keys the team's keyed reducers hold, and about how many bytes (estimated from a bounded sample). */
  storage: teamProcedure.query(async ({ ctx }) => {
    // It samples up to 100 reducers' keys: bounded per team, like the key-growth chart.
    await consume(limiter('keyed-storage', SCAN_RATE_LIMIT_PER_MINUTE, 60), ctx.team.id, 'Too many storage estimates for this team; wait a moment.');
    return readKeyedStorage({ teamId: ctx.team.id, db: ctx.db });
  }),

  create: userProcedure.input(z.object({ slug: TeamSlug, name: TeamName.optional() })).mutation(async ({ ctx, input }) => {
    const team = await ctx.db.$transaction((tx) => createTeam({ slug: input.slug, name: input.name, ownerId: ctx.caller.userId, db: tx }));
    return { slug: team.slug, name: team.name, personal: team.personal, role: 'owner' as const };
  }),

  // The slug is part of every stream URL and key's reach, so renaming changes the display name only.
  rename: teamRoleProcedure('admin')
    .input(z.object({ name: TeamName }))
    .mutation(({ ctx, input }) =>
      audited(
        ctx,
        [ctx.team],
        (tx) => tx.team.update({ where: { id: ctx.team.id }, data: { name: input.name }, select: settingsSelect }),
        () => ({ action: 'team.settings_changed', target: { changes: { name: input.name } } }),
      ),
    ),

  update: teamRoleProcedure('admin')
    .input(z.object({ autoCreateStreams: z.boolean().optional(), emailFrom: EmailFrom.optional(), requireTwoFactor: z.boolean().optional() }))
    .mutation(async ({ ctx, input }) => {
      if (input.requireTwoFactor !== undefined) {
        // Like GitHub's organizations: the owner decides, as a person who has two-factor on themselves.
        if (ctx.role !== 'owner' || ctx.caller.kind !== 'user') throw new AppError('forbidden', `Only an owner of team \`${ctx.team.slug}\`, signed in, can change whether it requires two-factor authentication.`);
        if (input.requireTwoFactor && !ctx.caller.twoFactor) throw new AppError('bad_request', 'Turn on two-factor authentication for your own account (/account) before requiring it of the team.');
      }
      const { team: _team, ...changes } = input;
      const team = await audited(
        ctx,
        [ctx.team],
        (tx) =>
          tx.team.update({
            where: { id: ctx.team.id },
            data: { autoCreateStreams: input.autoCreateStreams, emailFrom: input.emailFrom === '' ? null : input.emailFrom, requireTwoFactor: input.requireTwoFactor },
            select: settingsSelect,
          }),
        () => ({ action: 'team.settings_changed', target: { changes } }),
      );
      await invalidate({ kind: 'team', id: ctx.team.id });
      return team;
    }),

  delete: teamRoleProcedure('owner')
    .input(z.object({ confirm: z.string() }))
    .mutation(async ({ ctx, input }) => {
      if (input.confirm !== ctx.team.slug) throw new AppError('bad_request', `Type the team's name (\`${ctx.team.slug}\`) to confirm deleting it with all its streams, events and keys.`);
      if (ctx.team.personal) throw new AppError('bad_request', 'A personal team cannot be deleted.');
      await ctx.db.team.delete({ where: { id: ctx.team.id } });
      await invalidate({ kind: 'team', id: ctx.team.id });
      return { deleted: ctx.team.slug };
    }),

  /** Makes another member an owner; the caller stays on as an admin. */
  transferOwnership: teamRoleProcedure('owner')
    .input(z.object({ userId: z.string().uuid() }))
    .mutation(({ ctx, input }) => {
      if (ctx.caller.kind !== 'user') throw new AppError('forbidden', 'Only an owner can transfer ownership.');
      const caller = ctx.caller;
      return transferOwnership({ team: ctx.team, fromUserId: caller.userId, toUserId: input.userId, db: ctx.db }).then(async (done) => {
        const to = await ctx.db.user.findUnique({ where: { id: input.userId }, select: { email: true } });
        // After transferOwnership's own commit (record-audit.ts).
        await recordAudit(ctx, [ctx.team], { action: 'team.ownership_transferred', target: { from: { userId: caller.userId, email: caller.email }, to: { userId: input.userId, email: to?.email ?? null } } });
        return done;
      });
    }),

  signingSecret: teamRoleProcedure('admin').query(async ({ ctx }) => {
    const team = await ctx.db.team.findUniqueOrThrow({ where: { id: ctx.team.id }, select: { signingSecret: true } });
    return { signingSecret: team.signingSecret };
  }),

  rotateSigningSecret: teamRoleProcedure('admin').mutation(async ({ ctx }) => {
    // The entry says it was rotated, never what to.
    const team = await audited(
      ctx,
      [ctx.team],
      (tx) => tx.team.update({ where: { id: ctx.team.id }, data: { signingSecret: newSigningSecret() }, select: { signingSecret: true } }),
      () => ({ action: 'team.signing_secret_rotated', target: {} }),
    );
    return { signingSecret: team.signingSecret };
  }),
});
