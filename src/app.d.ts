declare global {
  namespace App {
    interface Locals {
      user: { id: string; email: string } | null;
      session: { id: string; expiresAt: Date } | null;
    }
    interface Error {
      code?: string;
      message: string;
    }
  }
}

export {};
