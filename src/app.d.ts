declare global {
  namespace App {
    interface Locals {
      /** The signed-in person: null until a session is complete (the second factor given, when two-factor is on). */
      user: { id: string; email: string; twoFactor: boolean } | null;
      session: { id: string; expiresAt: Date; twoFactorVerified: boolean } | null;
      /** Signed in but still owing the second factor: only the log-in page's second step (and log-out) accepts this. */
      twoFactorPending: { id: string; email: string } | null;
    }
    interface Error {
      code?: string;
      message: string;
    }
  }
}

export {};
