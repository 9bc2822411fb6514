// A stream's id is a function of its permanent (team slug, stream slug): a UUIDv3 (MD5) in a fixed
// namespace. Every request finds its stream by primary key straight from the URL, which is what
// makes the lookup single-shard on Citus (docs/scaling-citus.md). The same function exists in SQL,
// `pipet_stream_id(team, stream)` (migration citus_keys); a test checks that they agree.
import { createHash } from 'node:crypto';

const NAMESPACE = Buffer.from('9b6a7c1e0f2d4e5a8b3c6d7e8f9a0b1c', 'hex');

/** The id of the stream `streamSlug` of team `teamSlug`, whether it exists or not. */
export function streamIdFor(teamSlug: string, streamSlug: string): string {
  const h = createHash('md5').update(NAMESPACE).update(`${teamSlug}/${streamSlug}`, 'utf8').digest();
  h[6] = (h[6] & 0x0f) | 0x30;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
