// Authorization rows for the `invite` router.
import { hashToken, randomToken } from '../../../src/lib/server/crypto.ts';
import { expecting, unique, type MatrixRows, type World } from './world.ts';

/** A pending invite to `user`'s address, with the address verified; its token. */
async function inviteFor(w: World, user: { id: string; email: string }): Promise<string> {
  const token = randomToken(20);
  await w.db.user.update({ where: { id: user.id }, data: { emailVerifiedAt: new Date() } });
  await w.db.invite.create({ data: { teamId: w.otherTeam.id, email: user.email, role: 'member', tokenHash: hashToken(token), expiresAt: new Date(Date.now() + 86_400_000) } });
  return token;
}

export const inviteRows: MatrixRows = {
  'invite.create': { input: (w) => ({ team: w.team.slug, email: `${unique('new')}@example.com`, role: 'member' }), expect: expecting('adminUp') },
  'invite.list': { input: (w) => ({ team: w.team.slug }), expect: expecting('adminUp') },
  'invite.revoke': { input: (w) => ({ team: w.team.slug, id: w.invite.id }), expect: expecting('adminUp') },
  // The token is the credential: anyone holding the link may see what it invites to.
  'invite.preview': { input: (w) => ({ token: w.invite.token }), expect: expecting('everyone') },
  // Only the account whose verified email was invited may accept: each person gets an invite of their own.
  'invite.accept': { input: async (w, caller) => ({ token: caller in w.users ? await inviteFor(w, w.users[caller as keyof World['users']]) : w.invite.token }), expect: expecting('personOnly') },
};
