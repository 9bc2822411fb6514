// Two-factor authentication of the signed-in person (auth/two-factor.ts): setup, enable with a
// code, status, new recovery codes and disable (both with a current code).
import { z } from 'zod';
import { disableTwoFactor, enableTwoFactor, newTotpSetup, regenerateRecoveryCodes, twoFactorStatus } from '../../auth/two-factor.ts';
import { router, userProcedure } from '../init.ts';

const Code = z.string().trim().min(1, 'Enter the code from your authenticator app (or a recovery code).').max(64);

export const twoFactorRouter = router({
  status: userProcedure.query(({ ctx }) => twoFactorStatus(ctx.caller.userId, ctx.db)),

  /** A fresh key to scan: nothing is stored until `enable` gets a code made from it. */
  setup: userProcedure.mutation(({ ctx }) => newTotpSetup(ctx.caller.email)),

  /** Turns two-factor on; answers the recovery codes, shown this once. */
  enable: userProcedure
    .input(z.object({ key: z.string().max(64), code: z.string().trim().regex(/^\d{6}$/, 'Enter the 6-digit code your authenticator app shows.') }))
    .mutation(({ ctx, input }) => enableTwoFactor({ userId: ctx.caller.userId, sessionId: ctx.caller.sessionId ?? null, key: input.key, code: input.code, db: ctx.db })),

  regenerateRecoveryCodes: userProcedure
    .input(z.object({ code: Code }))
    .mutation(({ ctx, input }) => regenerateRecoveryCodes({ userId: ctx.caller.userId, code: input.code, db: ctx.db })),

  disable: userProcedure.input(z.object({ code: Code })).mutation(async ({ ctx, input }) => {
    await disableTwoFactor({ userId: ctx.caller.userId, code: input.code, db: ctx.db });
    return { enabled: false };
  }),
});
