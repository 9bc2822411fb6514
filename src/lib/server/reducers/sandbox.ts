// PLACEHOLDER so the build resolves while the sandbox is being written; the real module replaces
// this file entirely (same exports).
export type SandboxLimits = { cpuMsPerEvent: number; memoryBytes: number; stateBytes: number };
export type SandboxEvent = { index: number; bodyJson: string; receivedAt: number };
export type RecordedEffect =
  | { eventIndex: number; ordinal: number; kind: 'webhook'; payload: { url: string; method: string; headers: Record<string, string>; body: unknown } }
  | { eventIndex: number; ordinal: number; kind: 'email'; payload: { to: string | string[]; subject: string; text?: string; html?: string; replyTo?: string } }
  | { eventIndex: number; ordinal: number; kind: 'timer'; payload: { dueAt: string; event: unknown } };
export type FoldRequest = {
  cacheKey: string;
  code: string;
  stateJson: string;
  events: SandboxEvent[];
  stream: { team: string; name: string; length: number };
  limits?: Partial<SandboxLimits>;
  collectStates?: boolean;
};
export type FoldResult = {
  stateJson: string;
  folded: number;
  effects: RecordedEffect[];
  states?: string[];
  error?: { message: string; stack: string; index: number; kind: string };
};
export async function foldBatch(_req: FoldRequest): Promise<FoldResult> {
  throw new Error('The sandbox is not built yet.');
}
export async function closeSandbox(): Promise<void> {}
