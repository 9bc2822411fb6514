// Per-team shares of a worker's job slots. Every team is guaranteed `perTeam` of a queue's slots in
// this process; beyond its share a team may use more only while at least `perTeam` slots stay free.
// So a busy team alone uses nearly all of them, yet a newcomer always finds a slot: one team's slow
// webhooks or heavy reducers never leave the others waiting behind them.

export class TeamSlots {
  private readonly held = new Map<string, number>();
  private total = 0;
  readonly perTeam: number;
  readonly slots: number;

  constructor(perTeam: number, slots: number) {
    this.perTeam = perTeam;
    this.slots = slots;
  }

  /** A release function, or null when the team holds its share and the free slots are the reserve. */
  tryAcquire(teamId: string): (() => void) | null {
    const n = this.held.get(teamId) ?? 0;
    if (n >= this.perTeam && this.slots - this.total <= this.perTeam) return null;
    this.held.set(teamId, n + 1);
    this.total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.held.get(teamId) ?? 1) - 1;
      if (left > 0) this.held.set(teamId, left);
      else this.held.delete(teamId);
    };
  }

  heldBy(teamId: string): number {
    return this.held.get(teamId) ?? 0;
  }
}
