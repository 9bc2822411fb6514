// Email effects: through a real SMTP server on loopback (retried when it refuses), or stored in the
// team's outbox when SMTP_URL is unset and read back through effect.emails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStream, uniqueSlug, useOwnDatabase } from '../helpers/context.ts';
import { effectFixture, insertEffect, startEffectWorkers, waitForEffect, type EffectFixture } from '../helpers/effects.ts';
import { startSmtpCapture } from '../helpers/smtp.ts';

Object.assign(process.env, { RETRY_SCHEDULE: '0,200,200' });
delete process.env.SMTP_URL;
await useOwnDatabase('effmail');
const { db } = await import('../../src/lib/server/db/client.ts');
const { resetEnv } = await import('../../src/lib/server/env.ts');
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');

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

// Issue 23: one email() reached 1,330 recipients through nodemailer's own parsing of 50 strings
// like "a0@s.io,…,a33@s.io <z@s.io>". Every recipient is now exactly one address, refused at the
// fold when it is not, and again at delivery (a stored row is data, not a promise).
describe('recipients', () => {
  // 50 strings of 27 addresses each: 1,350 recipients nodemailer would have read out of them.
  const attack = Array.from({ length: 50 }, (_, n) => `${Array.from({ length: 26 }, (_, k) => `a${k}@s${n}.io`).join(',')} <z${n}@s.io>`);

  /** A reducer that emails whatever its event says; the state of the reducer after `message` folded. */
  async function foldEmail(message: object) {
    const stream = await makeStream(db(), { teamId: f.teamId, slug: uniqueSlug('mail'), name: 'mail' });
    await upsertReducer({ streamId: stream.id, name: 'mailer', code: '(n, e) => { email(e); return n + 1; }', initialState: 0 });
    await appendEvents({ streamId: stream.id, bodies: [message] });
    await foldStream({ streamId: stream.id });
    return {
      state: await db().reducerState.findFirstOrThrow({ where: { streamId: stream.id } }),
      effects: await db().effect.count({ where: { streamId: stream.id } }),
      streamId: stream.id,
    };
  }

  it('refuses a list smuggled into one recipient: the reducer stops, nothing is sent', async () => {
    useSmtp(smtpUrl);
    expect(attack.every((a) => a.length < 320)).toBe(true);
    const before = { mails: smtp.mails.length, rows: await db().emailMessage.count() };
    for (const to of [attack, attack[0], 'a@s.io;b@s.io', 'team: a@s.io, b@s.io;']) {
      const { state, effects } = await foldEmail({ to, subject: 'Hello' });
      expect(state).toMatchObject({ status: 'errored', errorIndex: 0 });
      expect(state.errorMessage).toMatch(/email\(message\): to(\[\])? must be an email address, exactly one/);
      expect(effects).toBe(0);
    }
    // A row stored by other means is refused before any SMTP conversation.
    const id = await insertEffect(db(), f, 'email', { to: attack, subject: 'Smuggled' });
    expect(await waitForEffect(db(), id)).toMatchObject({ status: 'failed', attempts: 1, lastError: expect.stringMatching(/Invalid email payload: to/) });
    expect(smtp.mails.length).toBe(before.mails);
    expect(await db().emailMessage.count()).toBe(before.rows);
  });

  it('caps the recipients of one email at EMAIL_RECIPIENTS_MAX (50)', async () => {
    const { state } = await foldEmail({ to: Array.from({ length: 51 }, (_, k) => `r${k}@example.com`), subject: 'Too many' });
    expect(state).toMatchObject({ status: 'errored', errorIndex: 0 });
    expect(state.errorMessage).toMatch(/at most 50 recipients \(EMAIL_RECIPIENTS_MAX\)/);
  });

  it('takes exactly one Reply-To address', async () => {
    for (const replyTo of ['a@s.io, b@s.io', 'A <a@s.io>; B <b@s.io>', 'a@s.io b@s.io']) {
      const { state } = await foldEmail({ to: 'ada@example.com', subject: 'Reply', replyTo });
      expect(state.errorMessage).toMatch(/replyTo must be an email address, exactly one/);
    }
    const id = await insertEffect(db(), f, 'email', { to: 'ada@example.com', subject: 'Two replies', replyTo: 'a@s.io;b@s.io' });
    expect(await waitForEffect(db(), id)).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/Invalid email payload: replyTo/) });
  });

  it('sends to each listed address, names and all, and nobody else', async () => {
    useSmtp(smtpUrl);
    const { state, streamId } = await foldEmail({ to: ['Ada Lovelace <ada@example.com>', 'bob@example.com', 'Zoë <zoe@example.com>'], subject: 'Three of you', text: 'hi', replyTo: 'Support Desk <help@acme.example>' });
    expect(state).toMatchObject({ status: 'active', state: 1 });
    const effect = await db().effect.findFirstOrThrow({ where: { streamId, kind: 'email' } });
    expect(await waitForEffect(db(), effect.id)).toMatchObject({ status: 'delivered' });
    const mail = smtp.mails.find((m) => m.raw.includes('Three of you'))!;
    expect(mail.to).toEqual(['ada@example.com', 'bob@example.com', 'zoe@example.com']);
    expect(mail.raw).toMatch(/^To: Ada Lovelace <ada@example\.com>, bob@example\.com,/m);
    expect(mail.raw).toMatch(/^Reply-To: Support Desk <help@acme\.example>$/m);
    expect(await db().emailMessage.findFirstOrThrow({ where: { subject: 'Three of you' } })).toMatchObject({ recipients: 3 });
  });
});
