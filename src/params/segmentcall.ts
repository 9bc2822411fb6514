// The Segment-compatible calls under /v1: track, identify, …, batch, import and their one-letter forms.
import type { ParamMatcher } from '@sveltejs/kit';
import { isSegmentCall } from '$lib/schemas/segment.ts';

export const match = ((param: string) => isSegmentCall(param)) satisfies ParamMatcher;
