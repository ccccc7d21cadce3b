/**
 * The periodic automatic ramp-down check (issue 4): every interval, each active plan with a guard
 * is judged by `decideRampDowns` over the executions that ended within its window; a decision is
 * applied in one transaction (type row locked, plan re-read and re-judged) with an audit_log entry,
 * then reported through `onRampDown` (the server logs it as an event).
 */
import type { Knex } from 'knex';
import type { Clock } from '../../common/clock.js';
import { appendImageAudit } from './audit-store.js';
import * as catalog from './catalog-store.js';
import { applyRampDowns, decideRampDowns, GUARD_FINISHED_STATUSES, windowOutcomes, type RampDownDecision } from './ramp-down.js';
import * as rampups from './rampup-store.js';
import { countFinishedExecutionsSince, findVersionSets } from './version-set-store.js';
import { parseVersionSetBody, type VersionSetEntry } from './version-set.js';

export const RAMP_DOWN_ACTOR = 'caisson:ramp-down';

export interface RampDownEvent extends RampDownDecision {
  imageType: string;
  planName: string;
  activeVersion: string;
  at: number;
}

export interface RampDownMonitorDeps {
  db: Knex;
  clock: Clock;
  intervalMs: number;
  onRampDown: (e: RampDownEvent) => void;
  onError: (err: unknown) => void;
}

export class RampDownMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: RampDownMonitorDeps) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.checkOnce()
        .then(() => undefined)
        .catch((e: unknown) => this.deps.onError(e))
        .finally(() => {
          this.running = undefined;
        });
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  /** Idempotent; waits for a check in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One check of every guarded active plan; resolves to the ramp-downs applied. */
  async checkOnce(): Promise<RampDownEvent[]> {
    const { db, clock } = this.deps;
    const now = clock.now();
    const applied: RampDownEvent[] = [];
    for (const g of await rampups.listGuardedActivePlans(db)) {
      const counts = await countFinishedExecutionsSince(db, GUARD_FINISHED_STATUSES, now - g.guard.windowMs);
      const sets = new Map<number, Record<string, VersionSetEntry>>(
        (await findVersionSets(db, [...new Set(counts.map((c) => c.versionSetId))])).map((s) => [s.id, parseVersionSetBody(s.body)]),
      );
      const events = await db.transaction(async (trx) => {
        const type = await catalog.findImageTypeById(trx, g.typeId);
        if (!type) return [];
        await catalog.findImageTypeByName(trx, type.name, { forUpdate: true });
        const plan = await rampups.findActivePlan(trx, g.typeId);
        if (!plan || plan.id !== g.planId || !plan.rampDownGuard) return [];
        const active = (await catalog.listImageVersions(trx, g.typeId, { state: 'ACTIVE' }))[0];
        const decisions = decideRampDowns(plan.rows, active?.version, plan.rampDownGuard, windowOutcomes(counts, sets, type.name));
        if (!active || decisions.length === 0) return [];
        const rows = applyRampDowns(plan.rows, { version: active.version, versionId: active.id }, decisions);
        await rampups.replacePlanRows(trx, plan.id, rows, RAMP_DOWN_ACTOR, now);
        const after = (await rampups.findActivePlan(trx, g.typeId))!;
        await appendImageAudit(trx, {
          actor: RAMP_DOWN_ACTOR,
          action: 'auto-ramp-down',
          entityType: 'image_rampup',
          entityId: type.name,
          before: plan,
          after: { ...after, reasons: decisions.map((d) => d.reason) },
          at: now,
        });
        return decisions.map((d) => ({ ...d, imageType: type.name, planName: plan.name, activeVersion: active.version, at: now }));
      });
      applied.push(...events);
    }
    for (const e of applied) this.deps.onRampDown(e);
    return applied;
  }
}
