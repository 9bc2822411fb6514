// The Slack-compatible kind end to end: a reducer's slack(url, text) is folded into an effect row,
// posted as {"text": …} to the incoming webhook, signed like every webhook, and retried the same way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useOwnDatabase } from '../helpers/context.ts';
import { effectFixture, startEffectWorkers, startReceiver, waitForEffect, type EffectFixture } from '../helpers/effects.ts';

Object.assign(process.env, { RETRY_SCHEDULE: '0,200,200', WEBHOOK_TIMEOUT_MS: '2000', ALLOW_PRIVATE_WEBHOOKS: 'true' });
await useOwnDatabase('effslack');
const { db } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');

let f: EffectFixture;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let workers: Awaited<ReturnType<typeof startEffectWorkers>>;

beforeAll(async () => {
  f = await effectFixture(db());
  receiver = await startReceiver(f.secret);
  workers = await startEffectWorkers();
});
afterAll(async () => {
  await workers?.close();
  await receiver?.close();
});

describe('slack effects', () => {
  it('posts the text to the incoming webhook, signed, and retries a failure with the same id', async () => {
    let calls = 0;
    receiver.on('/slack', (_r, res) => (++calls === 1 ? res.writeHead(503).end('busy') : res.writeHead(200).end('ok')));
    await upsertReducer({ streamId: f.streamId, name: 'notify', code: `(n, e) => { slack(${JSON.stringify(`${receiver.url}/slack`)}, 'New signup: ' + e.user); return n + 1 }`, initialState: 0 });
    await appendEvents({ streamId: f.streamId, bodies: [{ user: 'ada' }] });
    await foldStream({ streamId: f.streamId });
    const [row] = await db().effect.findMany({ where: { streamId: f.streamId, kind: 'slack' } });
    expect(row.payload).toEqual({ url: `${receiver.url}/slack`, text: 'New signup: ada' });
    const effect = await waitForEffect(db(), row.id);
    expect(effect).toMatchObject({ status: 'delivered', attempts: 2 });
    const got = receiver.at('/slack');
    expect(got).toHaveLength(2);
    for (const r of got) {
      expect(JSON.parse(r.body)).toEqual({ text: 'New signup: ada' });
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['webhook-id']).toBe(row.id);
      expect(r.verified, r.error).toBe(true);
    }
  });
});
