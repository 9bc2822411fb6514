// A stream's settings as the management API and the UI edit them.
import { z } from 'zod';

/** An allowed origin for CORS and form redirects: `*` or an http(s) origin. */
export const Origin = z.union([
  z.literal('*'),
  z
    .string()
    .url()
    .refine((u) => /^https?:$/.test(new URL(u).protocol), 'Use an http:// or https:// origin.')
    .transform((u) => new URL(u).origin),
]);

export const StreamSettings = z.object({
  name: z.string().trim().min(1).max(100).optional(),
  publicRead: z.boolean().optional(),
  publicWrite: z.boolean().optional(),
  allowedOrigins: z.array(Origin).max(50).optional(),
});
export type StreamSettings = z.infer<typeof StreamSettings>;
