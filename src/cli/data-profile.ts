// Where `pipet push | tail | state | export | import` find their server and key: PIPET_URL and
// PIPET_KEY, else the profile file (PIPET_PROFILE, or $XDG_CONFIG_HOME/pipet/profile.json, or
// ~/.config/pipet/profile.json), a JSON object `{ "url": "…", "key": "pk_…" }`.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

const Profile = z.object({ url: z.url().optional(), key: z.string().min(1).optional() });
export type Profile = { url: string; key: string | undefined };

export function profilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.PIPET_PROFILE || join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'pipet', 'profile.json');
}

function readProfileFile(path: string): z.infer<typeof Profile> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`The profile ${path} is not JSON: write {"url": "https://pipet.example", "key": "pk_…"}.`);
  }
  const profile = Profile.safeParse(parsed);
  if (!profile.success) throw new Error(`The profile ${path} is not valid: ${profile.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}.`);
  return profile.data;
}

/** The server and key: each from the environment when set, else from the profile file. */
export function loadProfile(env: NodeJS.ProcessEnv = process.env): Profile {
  const path = profilePath(env);
  const file = env.PIPET_URL && env.PIPET_KEY ? {} : readProfileFile(path);
  const url = env.PIPET_URL || file.url;
  if (!url) throw new Error(`No server: set PIPET_URL (and PIPET_KEY), or write ${path} as {"url": "https://pipet.example", "key": "pk_…"}.`);
  if (!z.url().safeParse(url).success) throw new Error(`PIPET_URL \`${url}\` is not a URL.`);
  return { url, key: env.PIPET_KEY || file.key };
}
