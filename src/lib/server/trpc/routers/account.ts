// The signed-in person's own account: their email address, whether it is verified, and changing it
// (auth/email-verification.ts, auth/change-email.ts). A person only: never a key.
import { z } from 'zod';
import { cancelEmailChange, requestEmailChange, resendVerificationCode } from '../../auth/change-email.ts';
import { emailStatus, verifyEmailCode } from '../../auth/email-verification.ts';
import { router, userProcedure } from '../init.ts';

export const accountRouter = router({
  /** The address, whether it is verified, and where a pending code was sent. */
  get: userProcedure.query(({ ctx }) => emailStatus(ctx.caller.userId, ctx.db)),

  /** The code from the email: the address it was sent to becomes the account's, verified. */
  verifyEmail: userProcedure
    .input(z.object({ code: z.string().max(64) }))
    .mutation(({ ctx, input }) => verifyEmailCode({ userId: ctx.caller.userId, code: input.code, db: ctx.db })),

  /** Another code, to the pending change's address or else the unverified account's own. */
  resendVerification: userProcedure.mutation(({ ctx }) => resendVerificationCode({ userId: ctx.caller.userId, requestOrigin: ctx.origin, db: ctx.db })),

  /** A code to a new address; the account switches once it is entered. Asks for the password when there is one. */
  changeEmail: userProcedure
    .input(z.object({ email: z.string().max(254), password: z.string().max(256).optional() }))
    .mutation(({ ctx, input }) => requestEmailChange({ userId: ctx.caller.userId, email: input.email, password: input.password, requestOrigin: ctx.origin, db: ctx.db })),

  cancelEmailChange: userProcedure.mutation(({ ctx }) => cancelEmailChange({ userId: ctx.caller.userId, db: ctx.db })),
});
