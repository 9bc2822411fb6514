// Authorization rows for the `senderDomain` router: members see the team's sender domains; admins
// add, verify and remove them. Verify uses a domain already verified, so no DNS is asked.
import { expecting, type MatrixRows, type World } from './world.ts';

async function domainOf(w: World, verified: boolean): Promise<string> {
  const domain = `${w.team.slug}.example`;
  await w.db.senderDomain.upsert({
    where: { teamId_domain: { teamId: w.team.id, domain } },
    create: { teamId: w.team.id, domain, token: 'matrix', verifiedAt: verified ? new Date() : null },
    update: {},
  });
  return domain;
}

export const senderDomainRows: MatrixRows = {
  'senderDomain.list': { input: (w) => ({ team: w.team.slug }), expect: expecting('anyMember') },
  'senderDomain.add': { input: (w) => ({ team: w.team.slug, domain: 'mail.acme.example' }), expect: expecting('adminUp') },
  'senderDomain.verify': { input: async (w) => ({ team: w.team.slug, domain: await domainOf(w, true) }), expect: expecting('adminUp') },
  'senderDomain.remove': { input: async (w) => ({ team: w.team.slug, domain: await domainOf(w, false) }), expect: expecting('adminUp') },
};
