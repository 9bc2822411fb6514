// The team's audit log (audit/record-audit.ts): admins and manage keys read and filter it. The same
// entries are the system stream `/s/{team}/_audit`, readable with a `read` key.
import { z } from 'zod';
import { AuditAction } from '../../audit/audit-entry.ts';
import { readAudit } from '../../audit/read-audit.ts';
import { router, teamRoleProcedure } from '../init.ts';

export const AuditListInput = z.object({
  action: AuditAction.optional(),
  actor: z.string().trim().min(1).max(320).optional(),
  before: z.number().int().min(0).optional(),
  since: z.coerce.date().optional(),
  until: z.coerce.date().optional(),
  limit: z.number().int().min(1).max(200).default(50),
});

export const auditRouter = router({
  /** Newest first; `next` (an index) is `before` for the next page, null at the start of the log. */
  list: teamRoleProcedure('admin')
    .input(AuditListInput)
    .query(({ ctx, input }) => {
      // `team` is the middleware's input (a slug); the log is ctx.team's.
      const { team: _team, ...filters } = input;
      return readAudit({ team: ctx.team, ...filters, db: ctx.db });
    }),
});
