// Schemas shared by the client and the server (no server imports here).
export * from './vocabulary.ts';
export * from './stream-settings.ts';
export * from './stream-signature.ts';
export * from './segment.ts';
