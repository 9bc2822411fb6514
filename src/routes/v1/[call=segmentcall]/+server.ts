import { handleSegment, segmentPayload } from '$lib/server/http/segment-request.ts';
import { writeKeyPreflight, writeKeyRoute } from '$lib/server/http/stream-route.ts';

export const POST = writeKeyRoute(handleSegment, async (event) => (await segmentPayload(event)).writeKey);
export const OPTIONS = writeKeyPreflight();
