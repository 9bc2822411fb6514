// Per-team shares of a worker's job slots: a team may hold at most `perTeam` of a queue's slots in
// this process, so one team's slow webhooks or heavy reducers leave the other slots to other teams.

export class TeamSlots {
  private readonly held = new Map<string, number>();
  readonly perTeam: number;

  constructor(perTeam: number) {
    this.perTeam = perTeam;
  }

  /** A release function, or null when the team already holds its share. */
  tryAcquire(teamId: string): (() => void) | null {
    const n = this.held.get(teamId) ?? 0;
    if (n >= this.perTeam) return null;
    this.held.set(teamId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(teamId) ?? 1) - 1;
      if (left > 0) this.held.set(teamId, left);
      else this.held.delete(teamId);
    };
  }

  heldBy(teamId: string): number {
    return this.held.get(teamId) ?? 0;
  }
}
