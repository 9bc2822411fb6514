// Email effects: through a real SMTP server on loopback (retried when it refuses), or stored in the
// team's outbox when SMTP_URL is unset and read back through effect.emails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useOwnDatabase } from '../helpers/context.ts';
import { effectFixture, insertEffect, startEffectWorkers, waitForEffect, type EffectFixture } from '../helpers/effects.ts';
import { startSmtpCapture } from '../helpers/smtp.ts';

Object.assign(process.env, { RETRY_SCHEDULE: '0,200,200' });
delete process.env.SMTP_URL;
await useOwnDatabase('effmail');
const { db } = await import('../../src/lib/server/db/client.ts');
const { resetEnv } = await import('../../src/lib/server/env.ts');
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');

let refuseNext = 0;
let smtp: Awaited<ReturnType<typeof startSmtpCapture>>;

let f: EffectFixture;
let workers: Awaited<ReturnType<typeof startEffectWorkers>>;
let smtpUrl: string;

beforeAll(async () => {
  smtp = await startSmtpCapture({
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('flaky') && refuseNext > 0) {
        refuseNext--;
        return callback(Object.assign(new Error('Mailbox busy, try later'), { responseCode: 450 }));
      }
      callback();
    },
  });
  smtpUrl = smtp.url;
  f = await effectFixture(db());
  await db().team.update({ where: { id: f.teamId }, data: { emailFrom: 'Acme <hello@acme.example>' } });
  // A verified sender domain, so emails go From the team's own address (tests/integration/email-sender.test.ts covers the rest).
  await db().senderDomain.create({ data: { teamId: f.teamId, domain: 'acme.example', token: 't', verifiedAt: new Date() } });
  workers = await startEffectWorkers();
});
afterAll(async () => {
  await workers?.close();
  await smtp?.close();
});

function useSmtp(url: string | undefined) {
  if (url) process.env.SMTP_URL = url;
  else delete process.env.SMTP_URL;
  resetEnv();
}

describe('email effects', () => {
  it('sends through SMTP with the team sender, subject and body', async () => {
    useSmtp(smtpUrl);
    const id = await insertEffect(db(), f, 'email', { to: 'ada@example.com', subject: 'You got stuck at step 2', text: 'You finished: signup, install.\nYou read: quickstart.', replyTo: 'support@acme.example' });
    const effect = await waitForEffect(db(), id);
    expect(effect).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(effect.attemptLog[0].responseExcerpt).toMatch(/Sent through SMTP/);
    const mail = smtp.mails.find((m) => m.raw.includes('You got stuck at step 2'))!;
    expect(mail).toBeDefined();
    expect(mail.from).toBe('hello@acme.example');
    expect(mail.to).toEqual(['ada@example.com']);
    expect(mail.raw).toMatch(/^Subject: You got stuck at step 2$/m);
    expect(mail.raw).toMatch(/^Reply-To: support@acme\.example$/m);
    expect(mail.raw).toContain('You finished: signup, install.');
    const stored = await db().emailMessage.findUniqueOrThrow({ where: { teamId_effectId: { teamId: f.teamId, effectId: id } } });
    expect(stored).toMatchObject({ status: 'sent', to: 'ada@example.com', teamId: f.teamId });
  });

  it('retries when the SMTP server refuses, and sends once', async () => {
    useSmtp(smtpUrl);
    refuseNext = 1;
    const id = await insertEffect(db(), f, 'email', { to: ['flaky@example.com'], subject: 'Retry me', html: '<p>hi</p>' });
    const effect = await waitForEffect(db(), id);
    expect(effect).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(effect.attemptLog[0].error).toMatch(/Mailbox busy/);
    expect(smtp.mails.filter((m) => m.raw.includes('Subject: Retry me'))).toHaveLength(1);
    expect(await db().emailMessage.count({ where: { effectId: id } })).toBe(1);
  });

  it('fails an email that is not one, without retrying', async () => {
    useSmtp(smtpUrl);
    const id = await insertEffect(db(), f, 'email', { to: 'not an address', subject: 'x' });
    const effect = await waitForEffect(db(), id);
    expect(effect).toMatchObject({ status: 'failed', attempts: 1 });
    expect(effect.lastError).toMatch(/Invalid email payload: to/);
  });

  it("stores the email in the team's outbox without SMTP_URL, visible through effect.emails", async () => {
    useSmtp(undefined);
    const before = smtp.mails.length;
    const id = await insertEffect(db(), f, 'email', { to: ['cy@example.com', 'dee@example.com'], subject: 'Outbox only', text: 'kept here' });
    const effect = await waitForEffect(db(), id);
    expect(effect).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(effect.attemptLog[0].responseExcerpt).toMatch(/outbox/);
    expect(smtp.mails.length).toBe(before);

    const user = await db().user.create({ data: { email: `owner-${f.teamSlug}@example.com`, passwordHash: 'x' } });
    await db().membership.create({ data: { teamId: f.teamId, userId: user.id, role: 'member' } });
    const caller = createCaller({ db: db(), caller: { kind: 'user', userId: user.id, email: user.email }, clientAddress: 'test' });
    const page = await caller.effect.emails({ team: f.teamSlug, limit: 2 });
    expect(page.items[0]).toMatchObject({ effectId: id, status: 'stored', to: 'cy@example.com, dee@example.com', subject: 'Outbox only', text: 'kept here', from: '"Acme" <hello@acme.example>' });
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).toBeTruthy();
    const rest = await caller.effect.emails({ team: f.teamSlug, limit: 50, cursor: page.nextCursor! });
    const all = [...page.items, ...rest.items].map((m) => m.subject);
    expect(all).toEqual(['Outbox only', 'Retry me', 'You got stuck at step 2']);
    expect(rest.nextCursor).toBeNull();
  });
});
