// Verified inbound webhooks: the signature a stream may require on every POST.
import { z } from 'zod';
import { Slug } from './vocabulary.ts';

export const SIGNATURE_SCHEMES = ['standard_webhooks', 'stripe', 'github'] as const;
export const SignatureScheme = z.enum(SIGNATURE_SCHEMES);
export type SignatureScheme = z.infer<typeof SignatureScheme>;

export const SIGNATURE_SCHEME_LABELS: Record<SignatureScheme, string> = {
  standard_webhooks: 'Standard Webhooks',
  stripe: 'Stripe (Stripe-Signature)',
  github: 'GitHub (X-Hub-Signature-256)',
};

/** A Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 random bytes (the spec's range). */
export const STANDARD_WEBHOOKS_SECRET = /^(whsec_)?[A-Za-z0-9+/]{32,88}={0,2}$/;

/**
 * Require a signature (`scheme` and, unless Pipet should make one, `secret`) or stop requiring one
 * (`scheme: null`). Stripe makes its endpoints' secrets, so a Stripe scheme needs the `whsec_…`
 * from Stripe's dashboard; for Standard Webhooks and GitHub Pipet can make one to paste there.
 */
export const StreamSignatureInput = z
  .object({
    stream: Slug,
    scheme: SignatureScheme.nullable(),
    secret: z.string().trim().min(8, 'A secret has at least 8 characters.').max(256).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.scheme === 'stripe' && !v.secret) ctx.addIssue({ code: 'custom', path: ['secret'], message: "Paste the endpoint's signing secret (whsec_…) from Stripe's dashboard." });
    if (v.scheme === 'standard_webhooks' && v.secret && !STANDARD_WEBHOOKS_SECRET.test(v.secret)) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'A Standard Webhooks secret is `whsec_` followed by base64 (24 to 64 bytes).' });
    }
    if (v.scheme === null && v.secret) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'No secret without a scheme.' });
  });
export type StreamSignatureInput = z.infer<typeof StreamSignatureInput>;
