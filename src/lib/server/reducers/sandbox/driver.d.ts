// The driver's source is evaluated inside QuickJS; this is its type for engine.ts.
export declare function pipetDriver(
  tick: (ordinal: number) => void,
  byteLength: (text: string) => number,
  codeSeed: number,
  kindsJson: string,
  emit: (ordinal: number, kind: number, argsJson: string) => string,
  overBudget: () => boolean,
  step: (stateJson: string) => void,
  done: (folded: number, stateJson: string | null, errorKind: string, errorMessage: string, errorStack: string) => void,
): (reducer: unknown, inputJson: string) => void;
