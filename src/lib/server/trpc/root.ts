// The management API: one router per domain.
import { createCallerFactory, router } from './init.ts';
import { accountRouter } from './routers/account.ts';
import { apiKeyRouter } from './routers/api-key.ts';
import { auditRouter } from './routers/audit.ts';
import { effectRouter } from './routers/effect.ts';
import { inviteRouter } from './routers/invite.ts';
import { memberRouter } from './routers/member.ts';
import { recipeRouter } from './routers/recipe.ts';
import { reducerRouter } from './routers/reducer.ts';
import { senderDomainRouter } from './routers/sender-domain.ts';
import { sessionRouter } from './routers/session.ts';
import { streamRouter } from './routers/stream.ts';
import { teamRouter } from './routers/team.ts';
import { twoFactorRouter } from './routers/two-factor.ts';

export const appRouter = router({
  team: teamRouter,
  member: memberRouter,
  invite: inviteRouter,
  apiKey: apiKeyRouter,
  stream: streamRouter,
  reducer: reducerRouter,
  effect: effectRouter,
  recipe: recipeRouter,
  senderDomain: senderDomainRouter,
  session: sessionRouter,
  twoFactor: twoFactorRouter,
  audit: auditRouter,
  account: accountRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
