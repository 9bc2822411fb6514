// tRPC's building blocks: one error mapping (AppError → TRPCError), and the middleware that
// resolves the team named in the input and the caller's role in it.
import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { z, ZodError } from 'zod';
import { AppError, ERROR_CODES, toAppError } from '../errors.ts';
import { atLeast, type Role } from '../../schemas/vocabulary.ts';
import type { Context } from './context.ts';
import { inputProblem } from '../http/check-input.ts';
import { twoFactorRequired } from '../auth/two-factor.ts';

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    return {
      ...shape,
      message: cause instanceof ZodError ? cause.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ') : shape.message,
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        appCode: cause instanceof AppError ? cause.code : undefined,
        fields: cause instanceof ZodError ? z.flattenError(cause).fieldErrors : undefined,
      },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** AppErrors become TRPCErrors with the table's code; anything unexpected is logged and hidden. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const cause = result.error.cause;
    if (cause instanceof AppError || (result.error.code === 'INTERNAL_SERVER_ERROR' && cause && !(cause instanceof ZodError))) {
      const app = toAppError(cause);
      if (!(cause instanceof AppError)) console.error(cause);
      throw new TRPCError({ code: ERROR_CODES[app.code].trpc, message: app.message, cause: app });
    }
  }
  return result;
});

/**
 * Every procedure's input, before its schema reads it: no NUL, no lone surrogate, no string over
 * MAX_INPUT_STRING_LENGTH, anywhere in it (keys included), so nothing reaches PostgreSQL that it
 * would refuse (a 500) or that Prisma would silently change (U+FFFD).
 */
const checkInput = t.middleware(async ({ getRawInput, next }) => {
  const problem = inputProblem(await getRawInput());
  if (problem) throw new AppError('bad_request', `The input cannot be taken: ${problem}.`);
  return next();
});

export const publicProcedure = t.procedure.use(mapErrors).use(checkInput);

/** Signed in (a session) or a manage key. */
export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (ctx.caller.kind === 'anonymous') {
    if (ctx.caller.invalidKey) throw new AppError('unauthorized', 'This API key is not valid (it may have been revoked).');
    throw new AppError('unauthorized', 'Sign in, or send a `manage` API key as `Authorization: Bearer <key>`.');
  }
  if (ctx.caller.kind === 'key' && !ctx.caller.scopes.includes('manage')) throw new AppError('forbidden', 'This API key lacks the `manage` scope.');
  return next({ ctx: { ...ctx, caller: ctx.caller } });
});

/** Signed in as a person: account-level procedures a key may not call. */
export const userProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.caller.kind !== 'user') throw new AppError('forbidden', 'Only a signed-in person can do this, not an API key.');
  return next({ ctx: { ...ctx, caller: ctx.caller } });
});

export const TeamInput = z.object({ team: z.string().min(1).max(63) });

/**
 * Resolves `input.team` (a slug) to the team and the caller's role. A team the caller cannot see
 * is NOT_FOUND, exactly like one that does not exist. Manage keys act as admins of their team.
 */
export const teamProcedure = authedProcedure.input(TeamInput).use(async ({ ctx, input, next }) => {
  const team = await ctx.db.team.findUnique({ where: { slug: input.team }, select: { id: true, slug: true, name: true, personal: true, requireTwoFactor: true } });
  let role: Role | null = null;
  if (team && ctx.caller.kind === 'user') {
    const m = await ctx.db.membership.findUnique({ where: { teamId_userId: { teamId: team.id, userId: ctx.caller.userId } }, select: { role: true } });
    role = m?.role ?? null;
  } else if (team && ctx.caller.kind === 'key' && ctx.caller.teamId === team.id) {
    role = 'admin';
  }
  if (!team || !role) throw new AppError('not_found', `No team \`${input.team}\`.`);
  // The owner's requirement binds people; keys are credentials of the team itself.
  if (team.requireTwoFactor && ctx.caller.kind === 'user' && !ctx.caller.twoFactor) throw twoFactorRequired(team.slug);
  return next({ ctx: { ...ctx, team, role } });
});

/** A teamProcedure that also requires at least `min` (owner > admin > member). */
export function teamRoleProcedure(min: Role) {
  return teamProcedure.use(({ ctx, next }) => {
    if (!atLeast(ctx.role, min)) throw new AppError('forbidden', `This needs the ${min} role in team \`${ctx.team.slug}\`.`);
    return next();
  });
}
