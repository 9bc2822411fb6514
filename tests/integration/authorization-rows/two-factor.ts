// Authorization rows for the `twoFactor` router: the signed-in person's own second factor; keys never.
import { generateTOTP } from '@oslojs/otp';
import { newTotpSetup, parseTotpKey } from '../../../src/lib/server/auth/two-factor.ts';
import { seal } from '../../../src/lib/server/auth/secret-box.ts';
import { expecting, type CallerName, type MatrixRows, type World } from './world.ts';

function personOf(w: World, caller: CallerName) {
  return caller === 'nonMember' || caller === 'member' || caller === 'admin' || caller === 'owner' ? w.users[caller] : null;
}

/** Two-factor turned on for the caller (a person), and its current code. */
async function currentCode(w: World, caller: CallerName): Promise<{ code: string }> {
  const key = parseTotpKey(newTotpSetup('matrix@example.com').key)!;
  const user = personOf(w, caller);
  if (user) await w.db.user.update({ where: { id: user.id }, data: { totpKey: seal(key) } });
  return { code: generateTOTP(key, 30, 6) };
}

export const twoFactorRows: MatrixRows = {
  'twoFactor.status': { input: () => undefined, expect: expecting('personOnly') },
  'twoFactor.setup': { input: () => undefined, expect: expecting('personOnly') },
  'twoFactor.enable': {
    input: () => {
      const setup = newTotpSetup('matrix@example.com');
      return { key: setup.key, code: generateTOTP(parseTotpKey(setup.key)!, 30, 6) };
    },
    expect: expecting('personOnly'),
  },
  'twoFactor.regenerateRecoveryCodes': { input: currentCode, expect: expecting('personOnly') },
  'twoFactor.disable': { input: currentCode, expect: expecting('personOnly') },
};
