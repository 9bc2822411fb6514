// Schemas shared by the client and the server (no server imports here).
export * from './vocabulary.ts';
export * from './stream-settings.ts';
