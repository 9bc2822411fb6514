// Retention: what Pipet keeps does not grow without bound. Settled effects (and their attempts) and
// outbox emails past the retention period, expired sessions and long-ended invites are deleted;
// pending effects and anything recent are kept.
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { useOwnDatabase } from '../helpers/context.ts';
import { effectFixture, insertEffect } from '../helpers/effects.ts';

Object.assign(process.env, { EFFECT_RETENTION_DAYS: '30', INVITE_RETENTION_DAYS: '30' });
await useOwnDatabase('retention');
const { db } = await import('../../src/lib/server/db/client.ts');
const { runRetention } = await import('../../src/worker/sweep.ts');

const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000);

describe('retention', () => {
  it('deletes what is settled and old, keeps what is pending or recent', async () => {
    const f = await effectFixture(db());
    const oldDelivered = await insertEffect(db(), f, 'webhook', { url: 'https://x.example' }, { enqueue: false, status: 'delivered', nextAttemptAt: daysAgo(40) });
    await db().effectAttempt.create({ data: { streamId: f.streamId, effectId: oldDelivered, durationMs: 5, statusCode: 200 } });
    const oldPending = await insertEffect(db(), f, 'webhook', { url: 'https://x.example' }, { enqueue: false, status: 'pending', nextAttemptAt: daysAgo(40) });
    const recentFailed = await insertEffect(db(), f, 'webhook', { url: 'https://x.example' }, { enqueue: false, status: 'failed', nextAttemptAt: daysAgo(2) });
    const oldEmail = await db().emailMessage.create({ data: { teamId: f.teamId, from: 'a@b.c', to: 'c@d.e', subject: 'old', createdAt: daysAgo(40) } });
    const newEmail = await db().emailMessage.create({ data: { teamId: f.teamId, from: 'a@b.c', to: 'c@d.e', subject: 'new' } });
    const user = await db().user.create({ data: { email: `${randomBytes(4).toString('hex')}@example.com`, passwordHash: 'x' } });
    const expired = await db().session.create({ data: { id: randomBytes(16).toString('hex'), userId: user.id, expiresAt: daysAgo(1) } });
    const live = await db().session.create({ data: { id: randomBytes(16).toString('hex'), userId: user.id, expiresAt: daysAgo(-10) } });
    const invite = (overrides: object) => db().invite.create({ data: { teamId: f.teamId, email: 'x@example.com', tokenHash: randomBytes(16).toString('hex'), expiresAt: daysAgo(-5), ...overrides } });
    const acceptedLongAgo = await invite({ acceptedAt: daysAgo(45), expiresAt: daysAgo(38) });
    const pendingInvite = await invite({});

    const pruned = await runRetention();
    expect(pruned).toMatchObject({ effects: 1, emails: 1, sessions: 1, invites: 1 });

    const effects = await db().effect.findMany({ where: { teamId: f.teamId }, select: { id: true } });
    expect(effects.map((e) => e.id).sort()).toEqual([oldPending, recentFailed].sort());
    expect(await db().effectAttempt.count({ where: { effectId: oldDelivered } })).toBe(0);
    expect((await db().emailMessage.findMany({ where: { teamId: f.teamId } })).map((m) => m.id)).toEqual([newEmail.id]);
    expect(await db().emailMessage.findUnique({ where: { teamId_id: { teamId: f.teamId, id: oldEmail.id } } })).toBeNull();
    expect((await db().session.findMany({ where: { userId: user.id } })).map((s) => s.id)).toEqual([live.id]);
    expect(await db().session.findUnique({ where: { id: expired.id } })).toBeNull();
    const invites = await db().invite.findMany({ where: { teamId: f.teamId } });
    expect(invites.map((i) => i.id)).toEqual([pendingInvite.id]);
    expect(invites.map((i) => i.id)).not.toContain(acceptedLongAgo.id);
  });
});
