// Sender domains: verify a domain by DNS before the team's emails may go From an address there.
import { z } from 'zod';
import { addSenderDomain, DomainName, listSenderDomains, removeSenderDomain, verifySenderDomain } from '../../effects/sender-domains.ts';
import { router, teamProcedure, teamRoleProcedure } from '../init.ts';

const DomainInput = z.object({ domain: DomainName });

export const senderDomainRouter = router({
  list: teamProcedure.query(({ ctx }) => listSenderDomains({ teamId: ctx.team.id, db: ctx.db })),

  /** Returns the TXT record to publish; adding a domain already listed returns it unchanged. */
  add: teamRoleProcedure('admin')
    .input(DomainInput)
    .mutation(({ ctx, input }) => addSenderDomain({ teamId: ctx.team.id, domain: input.domain, db: ctx.db })),

  /** Looks the TXT record up now; the answer says whether the domain is verified, or why not. */
  verify: teamRoleProcedure('admin')
    .input(DomainInput)
    .mutation(({ ctx, input }) => verifySenderDomain({ teamId: ctx.team.id, domain: input.domain, db: ctx.db })),

  remove: teamRoleProcedure('admin')
    .input(DomainInput)
    .mutation(({ ctx, input }) => removeSenderDomain({ teamId: ctx.team.id, domain: input.domain, db: ctx.db })),
});
