// The Segment-compatible ingest routes: /v1/{call}, the browser SDK's one-letter forms included.
export const SEGMENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type SegmentType = (typeof SEGMENT_TYPES)[number];

/** Path → the message type it implies, or `batch` for a batch of messages of any type. */
export const SEGMENT_CALLS: Record<string, SegmentType | 'batch'> = {
  track: 'track',
  identify: 'identify',
  page: 'page',
  screen: 'screen',
  group: 'group',
  alias: 'alias',
  batch: 'batch',
  import: 'batch',
  t: 'track',
  i: 'identify',
  p: 'page',
  s: 'screen',
  g: 'group',
  a: 'alias',
  b: 'batch',
};

export const isSegmentCall = (path: string): boolean => Object.hasOwn(SEGMENT_CALLS, path);
