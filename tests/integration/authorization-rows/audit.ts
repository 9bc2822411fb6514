// Authorization rows for the `audit` router: the team's audit log is for admins and manage keys.
import { expecting, type MatrixRows } from './world.ts';

export const auditRows: MatrixRows = {
  'audit.list': { input: (w) => ({ team: w.team.slug, limit: 10 }), expect: expecting('adminUp') },
};
