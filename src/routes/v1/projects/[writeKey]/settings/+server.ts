import { handleSegmentSettings } from '$lib/server/http/segment-request.ts';
import { writeKeyPreflight, writeKeyRoute } from '$lib/server/http/stream-route.ts';

export const GET = writeKeyRoute(handleSegmentSettings, async (event) => event.params.writeKey ?? null);
export const OPTIONS = writeKeyPreflight();
