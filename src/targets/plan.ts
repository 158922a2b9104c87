/**
 * What a stage or apply does to the world, one action at a time. Targets describe every helper run and
 * every write through an ActionLog; with --dry-run the log only records them, so the list printed is
 * made by the same code path that would have run, not by a second description that could drift.
 */
export type PlannedAction =
  | { kind: 'exec'; argv: string[]; purpose: string }
  | { kind: 'write'; path: string; bytes: number; purpose: string }
  | { kind: 'remove'; path: string; purpose: string }
  | { kind: 'flash'; region: string; offset: number; length: number; purpose: string }
  | { kind: 'check'; purpose: string }
  /** A request to a BMC (redfish): the body as sent, secrets replaced by "***"; an upload by its size. */
  | { kind: 'http'; method: string; url: string; body?: unknown; bytes?: number; purpose: string };

/** Called after each action has been performed (tests take a snapshot there: a crash sweep). */
export type AfterAction = (action: PlannedAction) => void | Promise<void>;

export class ActionLog {
  readonly actions: PlannedAction[] = [];

  constructor(readonly dryRun: boolean, private readonly after?: AfterAction) {}

  /** Record `action`; run `fn` unless this is a dry run. */
  async run<T>(action: PlannedAction, fn: () => Promise<T>): Promise<T | undefined> {
    this.actions.push(action);
    if (this.dryRun) return undefined;
    const r = await fn();
    if (this.after) await this.after(action);
    return r;
  }

  /** Record several actions done by one step (a write through sudo is several commands); run `fn` unless dry. */
  async runAll<T>(actions: PlannedAction[], fn: () => Promise<T>): Promise<T | undefined> {
    this.actions.push(...actions);
    if (this.dryRun) return undefined;
    const r = await fn();
    if (this.after) for (const a of actions) await this.after(a);
    return r;
  }

  /** Record an action that is only described (the emulated target's flash writes, checks). */
  note(action: PlannedAction): void {
    this.actions.push(action);
  }
}
