// Issue 9, finding 6: a team cannot send email as somebody else, nor without limit. Emails go From
// Pipet's own address ("<team> via Pipet") with the team's sender as Reply-To until the team
// proves by DNS that it controls the sender's domain; each team has a daily quota. A real SMTP
// server and a real DNS server (dns2), both on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import dns2 from 'dns2';
import { useOwnDatabase, uniqueSlug } from '../helpers/context.ts';
import { effectFixture, insertEffect, startEffectWorkers, waitForEffect, type EffectFixture } from '../helpers/effects.ts';
import { startSmtpCapture } from '../helpers/smtp.ts';

// TXT records the loopback DNS server answers with, by name.
const records = new Map<string, string[]>();
const dns = dns2.createServer({
  udp: true,
  handle(request, send) {
    const response = dns2.Packet.createResponseFromRequest(request);
    const [question] = request.questions;
    for (const value of records.get(question.name.toLowerCase()) ?? []) {
      // dns2 encodes plain records (its types also ask for the toBuffer that decoded ones carry).
      const answer: Partial<dns2.Packet.Resource> = { name: question.name, type: dns2.Packet.TYPE.TXT, class: dns2.Packet.CLASS.IN, ttl: 1, data: value };
      response.answers.push(answer as dns2.Packet.Resource);
    }
    send(response);
  },
});
await dns.listen({ udp: { port: 0, address: '127.0.0.1' } });
const dnsPort = (dns.addresses().udp as AddressInfo).port;

const smtp = await startSmtpCapture();
Object.assign(process.env, { RETRY_SCHEDULE: '0,200', SMTP_URL: smtp.url, DNS_SERVERS: `127.0.0.1:${dnsPort}`, EMAIL_FROM: 'Pipet <noreply@pipet.test>', EMAIL_QUOTA_PER_DAY: '1000' });
await useOwnDatabase('emailsender');
const { db } = await import('../../src/lib/server/db/client.ts');
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');
const { emailSender, parseMailbox, parseRecipient } = await import('../../src/lib/server/effects/email-sender.ts');

let workers: Awaited<ReturnType<typeof startEffectWorkers>>;
beforeAll(async () => {
  workers = await startEffectWorkers();
});
afterAll(async () => {
  await workers?.close();
  await smtp.close();
  await dns.close();
});

/** A team named "Acme" with an admin calling the API. */
async function acme(): Promise<EffectFixture & { api: ReturnType<typeof createCaller> }> {
  const f = await effectFixture(db());
  await db().team.update({ where: { id: f.teamId }, data: { name: 'Acme' } });
  const user = await db().user.create({ data: { email: `${uniqueSlug('admin')}@example.com`, passwordHash: 'x' } });
  await db().membership.create({ data: { teamId: f.teamId, userId: user.id, role: 'admin' } });
  return { ...f, api: createCaller({ db: db(), caller: { kind: 'user', userId: user.id, email: user.email }, clientAddress: 'test' }) };
}

async function sendOne(f: EffectFixture, payload: object) {
  const subject = uniqueSlug('subject');
  const id = await insertEffect(db(), f, 'email', { to: 'ada@example.com', subject, text: 'hi', ...payload });
  const effect = await waitForEffect(db(), id);
  return { id, subject, effect, mail: smtp.mails.find((m) => m.raw.includes(subject)) };
}

const header = (raw: string, name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(raw)?.[1];

describe('the sender', () => {
  it.each([
    ['no sender chosen', null, [], { from: { name: 'Acme via Pipet', address: 'noreply@pipet.test' }, replyTo: null, verified: false }],
    ['an unverified sender', 'PayPal <service@paypal.com>', ['acme.example'], { from: { name: 'Acme via Pipet', address: 'noreply@pipet.test' }, replyTo: '"PayPal" <service@paypal.com>', verified: false }],
    ['a sender on a verified domain', 'Acme <hello@acme.example>', ['acme.example'], { from: { name: 'Acme', address: 'hello@acme.example' }, replyTo: null, verified: true }],
    ['a bare address on a verified domain', 'hello@ACME.example', ['acme.example'], { from: { name: 'Acme', address: 'hello@ACME.example' }, replyTo: null, verified: true }],
    ['a subdomain of a verified domain', 'x@mail.acme.example', ['acme.example'], { from: { name: 'Acme via Pipet', address: 'noreply@pipet.test' }, replyTo: 'x@mail.acme.example', verified: false }],
  ])('%s', (_name, emailFrom, verifiedDomains, expected) => {
    expect(emailSender({ teamName: 'Acme', emailFrom, verifiedDomains, pipetFrom: 'Pipet <noreply@pipet.test>' })).toEqual(expected);
  });

  it.each([
    ['ada@example.com', { name: '', address: 'ada@example.com' }],
    ['Ada Lovelace <ada@example.com>', { name: 'Ada Lovelace', address: 'ada@example.com' }],
    ['  Zoë   Ü <zoe@example.com> ', { name: 'Zoë Ü', address: 'zoe@example.com' }],
    ["o'brien+tag@example.com", { name: '', address: "o'brien+tag@example.com" }],
    ['a0@s.io,a1@s.io <z@s.io>', null],
    ['a@s.io;b@s.io', null],
    ['team: a@s.io, b@s.io;', null],
    ['"A, B" <a@s.io>', null],
    ['a@s.io (Ada)', null],
    ['Ada <a@s.io> <b@s.io>', null],
    ['ada@example.com b@s.io', null],
    ['a@b@s.io', null],
    ['Ada\r\nBcc: x@s.io <a@s.io>', null],
    ['<a@s.io>, b@s.io', null],
    [`${'a'.repeat(320)}@s.io`, null],
  ])('reads %j as exactly one recipient, or none', (text, expected) => {
    expect(parseRecipient(text)).toEqual(expected);
  });

  it('keeps display names inside their header', () => {
    expect(emailSender({ teamName: 'Evil"\r\nBcc: x@y.z', emailFrom: null, verifiedDomains: [], pipetFrom: 'noreply@pipet.test' }).from).toEqual({ name: 'Evil Bcc: x@y.z via Pipet', address: 'noreply@pipet.test' });
    expect(parseMailbox('"Ada L." <ada@example.com>')).toEqual({ name: 'Ada L.', address: 'ada@example.com' });
  });

  it('sends From Pipet with the team as display name and its chosen sender as Reply-To, until the domain is verified', async () => {
    const f = await acme();
    await f.api.team.update({ team: f.teamSlug, emailFrom: 'PayPal Service <service@paypal.com>' });
    const { effect, mail } = await sendOne(f, {});
    expect(effect.status).toBe('delivered');
    expect(mail!.from).toBe('noreply@pipet.test');
    expect(header(mail!.raw, 'From')).toBe('Acme via Pipet <noreply@pipet.test>');
    expect(header(mail!.raw, 'Reply-To')).toBe('PayPal Service <service@paypal.com>');
    // A reducer's own replyTo wins.
    const own = await sendOne(f, { replyTo: 'support@acme.example' });
    expect(header(own.mail!.raw, 'Reply-To')).toBe('support@acme.example');
    expect(await f.api.team.get({ team: f.teamSlug })).toMatchObject({ emailSender: { from: '"Acme via Pipet" <noreply@pipet.test>', replyTo: '"PayPal Service" <service@paypal.com>', verified: false } });
    await expect(f.api.team.update({ team: f.teamSlug, emailFrom: 'not an address' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('verifies a domain by its DNS TXT record, then sends From the team sender there', async () => {
    const f = await acme();
    const domain = `${f.teamSlug}.example`;
    await f.api.team.update({ team: f.teamSlug, emailFrom: `Acme <hello@${domain}>` });
    const added = await f.api.senderDomain.add({ team: f.teamSlug, domain: `${domain.toUpperCase()}.` });
    expect(added).toMatchObject({ domain, verified: false, record: { type: 'TXT', name: `_pipet-verify.${domain}`, value: expect.stringMatching(/^pipet-verify=[a-z0-9]+$/) } });
    expect(await f.api.senderDomain.add({ team: f.teamSlug, domain })).toMatchObject({ record: added.record });
    await expect(f.api.senderDomain.add({ team: f.teamSlug, domain: 'https://acme.example/' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });

    // Not published yet, then a wrong value: not verified, and the reason says why.
    expect(await f.api.senderDomain.verify({ team: f.teamSlug, domain })).toMatchObject({ verified: false, lastError: expect.stringMatching(/No TXT record at _pipet-verify\./) });
    records.set(added.record.name, ['pipet-verify=somebody-elses-token']);
    expect(await f.api.senderDomain.verify({ team: f.teamSlug, domain })).toMatchObject({ verified: false, lastError: expect.stringMatching(/does not hold/) });
    expect((await sendOne(f, {})).mail!.from).toBe('noreply@pipet.test');

    records.set(added.record.name, ['v=spf1 -all', added.record.value]);
    expect(await f.api.senderDomain.verify({ team: f.teamSlug, domain })).toMatchObject({ verified: true, lastError: null, verifiedAt: expect.any(Date) });
    expect(await f.api.senderDomain.list({ team: f.teamSlug })).toEqual([expect.objectContaining({ domain, verified: true })]);
    const { mail } = await sendOne(f, {});
    expect(mail!.from).toBe(`hello@${domain}`);
    expect(header(mail!.raw, 'From')).toBe(`Acme <hello@${domain}>`);
    expect(header(mail!.raw, 'Reply-To')).toBeUndefined();

    // Another team cannot borrow the verified domain, and removing it returns to Pipet's sender.
    const other = await acme();
    await other.api.team.update({ team: other.teamSlug, emailFrom: `hello@${domain}` });
    expect((await sendOne(other, {})).mail!.from).toBe('noreply@pipet.test');
    expect(await f.api.senderDomain.remove({ team: f.teamSlug, domain })).toEqual({ removed: domain });
    expect((await sendOne(f, {})).mail!.from).toBe('noreply@pipet.test');
  });

  it('sends invites From Pipet too', async () => {
    const f = await acme();
    await f.api.team.update({ team: f.teamSlug, emailFrom: 'service@paypal.com' });
    const invite = await f.api.invite.create({ team: f.teamSlug, email: `${uniqueSlug('bob')}@example.com`, role: 'member' });
    expect(invite.emailStatus).toBe('sent');
    const mail = smtp.mails.find((m) => m.raw.includes(invite.url.split('/invite/')[1]))!;
    expect(mail.from).toBe('noreply@pipet.test');
    expect(header(mail.raw, 'Reply-To')).toBe('service@paypal.com');
  });
});

describe('the daily email quota', () => {
  it('fails an email over the quota with the reason, and a retry by hand sends it once there is room', async () => {
    const f = await acme();
    await db().team.update({ where: { id: f.teamId }, data: { emailQuotaPerDay: 2 } });
    expect((await sendOne(f, {})).effect.status).toBe('delivered');
    expect((await sendOne(f, {})).effect.status).toBe('delivered');
    const over = await sendOne(f, {});
    expect(over.mail).toBeUndefined();
    expect(over.effect).toMatchObject({ status: 'failed', attempts: 1, lastError: expect.stringMatching(/This team's daily email quota would be crossed: 2 of its 2 recipients in the last 24 hours are used, and this email has 1 recipient\./) });
    const shown = await f.api.effect.get({ team: f.teamSlug, id: over.id });
    expect(shown.attemptLog[0].error).toMatch(/quota/);
    // Invites count too: the invite stands, its email is not sent.
    expect((await f.api.invite.create({ team: f.teamSlug, email: `${uniqueSlug('cy')}@example.com`, role: 'member' })).emailStatus).toBe('failed');
    expect(await db().emailMessage.count({ where: { teamId: f.teamId } })).toBe(2);

    await db().team.update({ where: { id: f.teamId }, data: { emailQuotaPerDay: 3 } });
    expect(await f.api.effect.retry({ team: f.teamSlug, id: over.id })).toEqual({ retried: [over.id] });
    const retried = await waitForEffect(db(), over.id, ['delivered']);
    expect(retried.attempts).toBe(2);
    expect(smtp.mails.filter((m) => m.raw.includes(over.subject))).toHaveLength(1);
  });

  it('applies EMAIL_QUOTA_PER_DAY to teams without their own quota', async () => {
    const { env, resetEnv } = await import('../../src/lib/server/env.ts');
    const f = await acme();
    process.env.EMAIL_QUOTA_PER_DAY = '1';
    resetEnv();
    try {
      expect(env().EMAIL_QUOTA_PER_DAY).toBe(1);
      expect((await sendOne(f, {})).effect.status).toBe('delivered');
      expect((await sendOne(f, {})).effect).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/1 of its 1 recipients/) });
    } finally {
      process.env.EMAIL_QUOTA_PER_DAY = '1000';
      resetEnv();
    }
  });

  it('counts recipients, not emails', async () => {
    const f = await acme();
    await db().team.update({ where: { id: f.teamId }, data: { emailQuotaPerDay: 4 } });
    expect((await sendOne(f, { to: ['a@example.com', 'b@example.com', 'c@example.com'] })).effect.status).toBe('delivered');
    const over = await sendOne(f, { to: ['d@example.com', 'e@example.com'] });
    expect(over.mail).toBeUndefined();
    expect(over.effect).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/team's daily email quota would be crossed: 3 of its 4 recipients .* this email has 2 recipients/) });
    expect((await sendOne(f, { to: 'd@example.com' })).effect.status).toBe('delivered');
    expect((await sendOne(f, { to: 'e@example.com' })).effect.status).toBe('failed');
  });

  it("shares the account's quota among all the teams of one owner", async () => {
    const owner = await db().user.create({ data: { email: `${uniqueSlug('owner')}@example.com`, passwordHash: 'x', emailQuotaPerDay: 4 } });
    const [a, b, other] = [await acme(), await acme(), await acme()];
    await db().team.updateMany({ where: { id: { in: [a.teamId, b.teamId] } }, data: { accountId: owner.id } });
    expect((await sendOne(a, { to: ['a@example.com', 'b@example.com', 'c@example.com'] })).effect.status).toBe('delivered');
    // Team b has sent nothing, its own quota (1000) is far off: the account's 4 is what stops it.
    const over = await sendOne(b, { to: ['d@example.com', 'e@example.com'] });
    expect(over.mail).toBeUndefined();
    expect(over.effect).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/quota of this team's account \(all the teams of its owner together\) would be crossed: 3 of its 4 recipients/) });
    expect((await sendOne(b, { to: 'd@example.com' })).effect.status).toBe('delivered');
    // Invites count toward it too.
    expect((await b.api.invite.create({ team: b.teamSlug, email: `${uniqueSlug('cy')}@example.com`, role: 'member' })).emailStatus).toBe('failed');
    // Another owner's team is not affected.
    expect((await sendOne(other, { to: ['d@example.com', 'e@example.com'] })).effect.status).toBe('delivered');
  });

  it('applies ACCOUNT_EMAIL_QUOTA_PER_DAY to a team without an owner, as its own account', async () => {
    const { resetEnv } = await import('../../src/lib/server/env.ts');
    const f = await acme();
    await db().team.update({ where: { id: f.teamId }, data: { accountId: null } });
    process.env.ACCOUNT_EMAIL_QUOTA_PER_DAY = '2';
    resetEnv();
    try {
      expect((await sendOne(f, { to: ['a@example.com', 'b@example.com'] })).effect.status).toBe('delivered');
      expect((await sendOne(f, {})).effect).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/account .* 2 of its 2 recipients/) });
    } finally {
      delete process.env.ACCOUNT_EMAIL_QUOTA_PER_DAY;
      resetEnv();
    }
  });
});
