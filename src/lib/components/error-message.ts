// One way to turn a failed tRPC call (or anything thrown) into the sentence the page shows.
export function errorMessage(e: unknown): string {
  if (e instanceof Error) {
    // tRPC's zod errors arrive as a JSON array of issues in `message`; show their messages.
    if (e.message.startsWith('[')) {
      try {
        const issues = JSON.parse(e.message) as { message?: string; path?: (string | number)[] }[];
        return issues.map((i) => (i.path?.length ? `${i.path.join('.')}: ` : '') + (i.message ?? '')).join('; ');
      } catch {
        /* not JSON after all */
      }
    }
    return e.message;
  }
  return String(e);
}

/** JSON for display: compact when short, indented when not. */
export function showJson(value: unknown): string {
  const flat = JSON.stringify(value);
  if (flat === undefined) return 'undefined';
  return flat.length <= 80 ? flat : JSON.stringify(value, null, 2);
}
