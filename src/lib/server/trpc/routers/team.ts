// Teams: the caller's teams, create, rename, settings, signing secret, transfer and delete.
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import { createTeam, newSigningSecret } from '../../teams/create-team.ts';
import { readFirstRun } from '../../teams/read-first-run.ts';
import { Slug as TeamSlug } from '../../../schemas/vocabulary.ts';
import { router, teamProcedure, teamRoleProcedure, userProcedure } from '../init.ts';

const TeamName = z.string().trim().min(1, 'Give the team a name.').max(100);

const settingsSelect = { slug: true, name: true, personal: true, autoCreateStreams: true, emailFrom: true, createdAt: true } as const;

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
    return { ...team, role: ctx.role };
  }),

  /** The first-run checklist: a key, a first event, a reducer, a recipe. */
  firstRun: teamProcedure.query(({ ctx }) => readFirstRun({ teamId: ctx.team.id, db: ctx.db })),

  create: userProcedure.input(z.object({ slug: TeamSlug, name: TeamName.optional() })).mutation(async ({ ctx, input }) => {
    const team = await createTeam({ slug: input.slug, name: input.name, ownerId: ctx.caller.userId, db: ctx.db });
    return { slug: team.slug, name: team.name, personal: team.personal, role: 'owner' as const };
  }),

  // The slug is part of every stream URL and key's reach, so renaming changes the display name only.
  rename: teamRoleProcedure('admin')
    .input(z.object({ name: TeamName }))
    .mutation(({ ctx, input }) => ctx.db.team.update({ where: { id: ctx.team.id }, data: { name: input.name }, select: settingsSelect })),

  update: teamRoleProcedure('admin')
    .input(z.object({ autoCreateStreams: z.boolean().optional(), emailFrom: z.string().trim().max(320).nullable().optional() }))
    .mutation(({ ctx, input }) =>
      ctx.db.team.update({
        where: { id: ctx.team.id },
        data: { autoCreateStreams: input.autoCreateStreams, emailFrom: input.emailFrom === '' ? null : input.emailFrom },
        select: settingsSelect,
      }),
    ),

  delete: teamRoleProcedure('owner')
    .input(z.object({ confirm: z.string() }))
    .mutation(async ({ ctx, input }) => {
      if (input.confirm !== ctx.team.slug) throw new AppError('bad_request', `Type the team's name (\`${ctx.team.slug}\`) to confirm deleting it with all its streams, events and keys.`);
      if (ctx.team.personal) throw new AppError('bad_request', 'A personal team cannot be deleted.');
      await ctx.db.team.delete({ where: { id: ctx.team.id } });
      return { deleted: ctx.team.slug };
    }),

  /** Makes another member an owner; the caller stays on as an admin. */
  transferOwnership: teamRoleProcedure('owner')
    .input(z.object({ userId: z.string().uuid() }))
    .mutation(async ({ ctx, input }) => {
      if (ctx.caller.kind !== 'user') throw new AppError('forbidden', 'Only an owner can transfer ownership.');
      if (ctx.team.personal) throw new AppError('bad_request', 'A personal team cannot change hands; create a team to share it.');
      if (input.userId === ctx.caller.userId) throw new AppError('bad_request', 'You already own this team.');
      const me = ctx.caller.userId;
      return ctx.db.$transaction(async (tx) => {
        const { count } = await tx.membership.updateMany({ where: { teamId: ctx.team.id, userId: input.userId }, data: { role: 'owner' } });
        if (count === 0) throw new AppError('not_found', 'No such member in this team.');
        await tx.membership.update({ where: { teamId_userId: { teamId: ctx.team.id, userId: me } }, data: { role: 'admin' } });
        return { owner: input.userId };
      });
    }),

  signingSecret: teamRoleProcedure('admin').query(async ({ ctx }) => {
    const team = await ctx.db.team.findUniqueOrThrow({ where: { id: ctx.team.id }, select: { signingSecret: true } });
    return { signingSecret: team.signingSecret };
  }),

  rotateSigningSecret: teamRoleProcedure('admin').mutation(async ({ ctx }) => {
    const team = await ctx.db.team.update({ where: { id: ctx.team.id }, data: { signingSecret: newSigningSecret() }, select: { signingSecret: true } });
    return { signingSecret: team.signingSecret };
  }),
});
