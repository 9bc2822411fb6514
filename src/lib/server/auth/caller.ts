// Who is asking, as the management API and the audit log name them: a signed-in person, a key, or
// nobody yet.
export type Caller =
  /** `sessionId`: the session signed in with (null when called in-process without one); `twoFactor`: the person has two-factor on (and gave it in this session). */
  | { kind: 'user'; userId: string; email: string; sessionId?: string | null; twoFactor?: boolean }
  | { kind: 'key'; keyId: string; teamId: string; scopes: string[] }
  | { kind: 'anonymous'; invalidKey?: boolean };
