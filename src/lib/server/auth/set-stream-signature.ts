// A stream's inbound signature: require one (with the sender's secret, or one made here) or stop
// requiring it. Every web process verifies with the new setting before this returns.
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { randomToken } from '../crypto.ts';
import { invalidate } from './auth-cache.ts';
import type { SignatureScheme } from '../../schemas/stream-signature.ts';
import { streamIdFor } from '../streams/stream-id.ts';

export type SetStreamSignatureOptions = { teamId: string; teamSlug: string; slug: string; scheme: SignatureScheme | null; secret?: string; db?: DbTx };

/** A fresh secret for a scheme whose secret Pipet may choose (Stripe chooses its own). */
export function newInboundSecret(scheme: Exclude<SignatureScheme, 'stripe'>): string {
  if (scheme === 'standard_webhooks') return `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')}`;
  return randomToken(32);
}

export async function setStreamSignature({ teamId, teamSlug, slug, scheme, secret, db = defaultDb() }: SetStreamSignatureOptions): Promise<{ scheme: SignatureScheme | null; secret: string | null }> {
  if (scheme === 'stripe' && !secret) throw new AppError('bad_request', "Stripe makes the secret: paste the endpoint's signing secret (whsec_…) from Stripe's dashboard.");
  const value = scheme === null ? null : (secret ?? newInboundSecret(scheme as Exclude<SignatureScheme, 'stripe'>));
  const { count } = await db.stream.updateMany({ where: { id: streamIdFor(teamSlug, slug), teamId }, data: { signatureScheme: scheme, signatureSecret: value } });
  if (count === 0) throw new AppError('not_found', `No stream \`${slug}\`.`);
  await invalidate({ kind: 'team', id: teamId });
  return { scheme, secret: value };
}
