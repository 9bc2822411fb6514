// What `GET /v1/projects/{writeKey}/settings` answers: the settings analytics.js (analytics-next)
// loads from its CDN, with the Segment.io destination pointed back at this server. Pure.

/**
 * `apiHost` is host and path without the scheme (analytics-next builds `${protocol}://${apiHost}/t`),
 * and metrics are off (they would go to Segment).
 */
export function segmentSettings({ writeKey, publicUrl }: { writeKey: string; publicUrl: URL }) {
  const path = publicUrl.pathname.replace(/\/+$/, '');
  return {
    integrations: {
      'Segment.io': {
        apiKey: writeKey,
        apiHost: `${publicUrl.host}${path}/v1`,
        protocol: publicUrl.protocol.replace(':', ''),
        unbundledIntegrations: [],
        addBundledMetadata: false,
        maybeBundledConfigIds: {},
      },
    },
    plan: { track: { __default: { enabled: true, integrations: {} } }, identify: { __default: { enabled: true } }, group: { __default: { enabled: true } } },
    edgeFunction: {},
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  };
}
