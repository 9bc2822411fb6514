// `slack(url, text)`: a message to a Slack-compatible incoming webhook (Slack, Mattermost,
// Rocket.Chat, Discord's /slack endpoint), signed and retried like `request`.
import { z } from 'zod';
import { dueNow, hostOf, httpUrl, parseArgs, type EffectSpec } from './define.ts';

export const SlackPayload = z.object({ url: z.string().min(1).max(4096), text: z.string().min(1).max(40_000) });
export type SlackPayload = z.infer<typeof SlackPayload>;

const Args = z.object({
  url: httpUrl('url'),
  text: z.string({ error: 'text must be a non-empty string' }).min(1, 'text must be a non-empty string').max(40_000, 'text must be at most 40000 characters'),
});

const signature = { name: 'slack', params: ['url', 'text'] } as const;

export const slack: EffectSpec<SlackPayload> = {
  kind: 'slack',
  signature,
  record: (args) => parseArgs({ signature }, Args, args),
  payload: SlackPayload,
  queue: 'deliver',
  dueAt: dueNow,
  destination: (p) => hostOf(p.url),
  summary: (p) => `${new URL(p.url).host}: ${p.text.length > 60 ? `${p.text.slice(0, 60)}…` : p.text}`,
};
