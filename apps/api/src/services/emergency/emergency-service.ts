/**
 * The emergency stop. Each instance holds the current state in memory, so the guard costs
 * no network round trip per request; coordination pub/sub keeps that copy fresh within
 * milliseconds, and PostgreSQL is the source of truth (ordered by `version`) that every
 * instance resyncs from at start, on reconnect and periodically.
 *
 * Redis trouble never thaws anything: an instance that loses Redis keeps its last state; a
 * change made while Redis is down is applied here and in PostgreSQL and published once
 * Redis is back (the reconnect resync republishes, and every instance resyncs too).
 */
import type { TEmergencyChangeResult, TEmergencyFreezeParsed, TEmergencyStatus } from "@switchboard/schema";
import type { Coordination } from "../../infra/coordination/port.ts";
import { AppError } from "../errors.ts";
import type { Actor, ChangeOutcome, EmergencyStore } from "./emergency-store.ts";
import { createFleetBus, type Proof } from "./fleet-bus.ts";
import type { StateMessage } from "./messages.ts";
import { inactiveState, isInForce, refusalFor, type EmergencyTarget } from "./policy.ts";
import { createStateWatchers } from "./watchers.ts";

export interface EmergencyLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface EmergencyServiceOptions {
  store: EmergencyStore;
  coordination: Coordination;
  instanceId: string;
  log: EmergencyLog;
  /** How long freeze/unfreeze wait for every live instance to acknowledge (default 250 ms). */
  ackWaitMs?: number;
  /** Safety-net resync from PostgreSQL (default 30 s); pub/sub and reconnects do the real work. */
  reconcileIntervalMs?: number;
  /** Retry delay when PostgreSQL refuses an expiry (default 5 s). */
  expiryRetryMs?: number;
}

/** setTimeout cannot wait longer than this (about 24.8 days); longer expiries re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function createEmergencyService(opts: EmergencyServiceOptions) {
  const { store, coordination, instanceId, log } = opts;
  const bus = createFleetBus({
    coordination,
    instanceId,
    ackWaitMs: opts.ackWaitMs ?? 250,
    onMalformed: (raw) => log.warn({ raw: raw.slice(0, 200) }, "ignored a malformed emergency message"),
  });
  const watchers = createStateWatchers();
  const cleanups: Array<() => Promise<void> | void> = [];

  let current: TEmergencyStatus = inactiveState(0);
  /** A change this instance could not publish (Redis down); published on reconnect. */
  let unpublished = false;
  let expiryTimer: NodeJS.Timeout | undefined;
  let closed = false;

  /** The state as enforced now: an expired freeze no longer counts even before it is recorded. */
  function status(): TEmergencyStatus {
    return isInForce(current, Date.now()) ? current : current.active ? inactiveState(current.version) : current;
  }

  /** Applies a state if it is newer than ours; true when it changed anything. */
  function apply(next: TEmergencyStatus, source: string, opts: { evenIfOlder?: boolean } = {}): boolean {
    if (next.version <= current.version && !(opts.evenIfOlder && next.version < current.version)) return false;
    const before = status();
    current = next;
    armExpiry();
    const after = status();
    if (before.active !== after.active || after.active) {
      log.warn({ source, version: next.version, active: after.active, scope: after.scope, reason: after.reason }, after.active ? "emergency freeze applied" : "emergency freeze lifted");
    }
    watchers.emit(after);
    return true;
  }

  /** Publishes and waits for acks; a failed publish is retried on reconnect. */
  async function propagate(state: TEmergencyStatus): Promise<Proof> {
    const { proof, published } = await bus.propagate(state);
    if (!published) {
      unpublished = true;
      log.warn({ version: state.version }, "emergency state not published (coordination unavailable); will publish on reconnect");
    }
    return proof;
  }

  async function publishOrMark(state: TEmergencyStatus): Promise<void> {
    await bus.publish(state).catch(() => {
      unpublished = true;
    });
  }

  async function recordChange(work: () => Promise<ChangeOutcome>, what: string): Promise<ChangeOutcome> {
    try {
      return await work();
    } catch (error) {
      // Without PostgreSQL there is no audit row and no ordering, so nothing changes.
      log.error({ err: error }, `emergency ${what} could not be recorded`);
      throw new AppError("SERVICE_UNAVAILABLE", `The ${what} could not be recorded in the database; nothing was changed. Try again.`, {
        retryAfterSec: 5,
        cause: error,
      });
    }
  }

  async function freeze(input: TEmergencyFreezeParsed, actor: Actor): Promise<TEmergencyChangeResult> {
    const outcome = await recordChange(
      () => store.freeze({ scope: input.scope, reason: input.reason, expiresInSec: input.expiresInSec ?? null, actor, instanceId }),
      "freeze",
    );
    apply(outcome.state, `freeze by ${actor.email}`);
    const proof = await propagate(outcome.state);
    await auditAcks(outcome.eventId, proof.acknowledgedBy);
    return { ...outcome.state, changed: true, ...proof };
  }

  async function unfreeze(input: { reason?: string | undefined }, actor: Actor): Promise<TEmergencyChangeResult> {
    const outcome = await recordChange(
      () => store.unfreeze({ action: "unfreeze", reason: input.reason ?? null, actor, instanceId }),
      "unfreeze",
    );
    apply(outcome.state, `unfreeze by ${actor.email}`);
    // Even a no-op unfreeze republishes: its acks prove the whole fleet is unfrozen.
    const proof = await propagate(outcome.state);
    await auditAcks(outcome.eventId, proof.acknowledgedBy);
    return { ...outcome.state, changed: outcome.eventId !== null, ...proof };
  }

  async function auditAcks(eventId: string | null, count: number): Promise<void> {
    if (!eventId) return;
    await store.recordAcks(eventId, count).catch((error: unknown) => log.warn({ err: error }, "could not record acks on the audit row"));
  }

  function armExpiry(): void {
    clearTimeout(expiryTimer);
    expiryTimer = undefined;
    if (closed || !current.active || current.expiresAt === null) return;
    const delay = Math.min(Math.max(0, Date.parse(current.expiresAt) - Date.now()), MAX_TIMER_MS);
    expiryTimer = setTimeout(() => void expire(current.version), delay);
    expiryTimer.unref();
  }

  /**
   * Every instance runs this at expiry and enforces the thaw locally at once; PostgreSQL's
   * conditional update lets exactly one of them record it (audit row) and publish it.
   */
  async function expire(version: number): Promise<void> {
    if (closed || current.version !== version || !current.active || current.expiresAt === null) return;
    if (Date.parse(current.expiresAt) > Date.now()) return armExpiry(); // a long expiry re-arming
    watchers.emit(status());
    try {
      const outcome = await store.unfreeze({
        action: "expire",
        reason: `Expired at ${current.expiresAt}`,
        actor: null,
        instanceId,
        onlyVersion: version,
      });
      apply(outcome.state, "expiry");
      if (outcome.eventId) await publishOrMark(outcome.state);
    } catch (error) {
      log.warn({ err: error }, "could not record the freeze expiry; retrying");
      expiryTimer = setTimeout(() => void expire(version), opts.expiryRetryMs ?? 5_000);
      expiryTimer.unref();
    }
  }

  function onStateMessage(message: StateMessage): void {
    if (message.state.version < current.version) {
      // A late message (a newer change overtook it), or PostgreSQL went back and we hold a
      // version it no longer has. Ask it before acknowledging, so an ack is never a lie.
      resync({ republish: false }).then(
        () => bus.acknowledge(current.version),
        (error: unknown) => log.warn({ err: error }, "emergency resync failed; not acknowledging"),
      );
      return;
    }
    apply(message.state, `instance ${message.origin}`);
    // Acknowledge what we now hold (>= the message's version).
    bus.acknowledge(current.version);
  }

  let resyncing: Promise<void> | null = null;
  /** Reloads the truth from PostgreSQL and repairs coordination (key; republish if asked). */
  function resync(how: { republish: boolean }): Promise<void> {
    const run = async () => {
      const held = current.version;
      const truth = await store.load();
      // Everything we held was committed before this load began, so a lower version means
      // PostgreSQL went back (restored from a backup, row reset): it is the truth, adopt it.
      // (Unless a newer change arrived while loading; the next resync settles that.)
      const wentBack = truth.version < held && current.version === held;
      if (wentBack) log.warn({ held, database: truth.version }, "emergency state in PostgreSQL is older than ours; adopting it");
      apply(truth, "database", { evenIfOlder: wentBack });
      if (coordination.state() !== "ready") return;
      if (how.republish || unpublished) {
        unpublished = false;
        await publishOrMark(current);
      } else {
        // A flushed or restarted Redis lost the mirror; put the truth back.
        await bus.repairMirror(current);
      }
    };
    // One at a time; a resync asked for during another runs after it.
    const next = (resyncing ?? Promise.resolve()).then(run, run);
    resyncing = next.finally(() => {
      if (resyncing === next) resyncing = null;
    });
    return next;
  }

  function safeResync(why: string, republish: boolean): void {
    resync({ republish }).catch((error: unknown) => log.warn({ err: error, why }, "emergency resync failed; keeping the last known state"));
  }

  async function start(): Promise<void> {
    // Subscribe first, then load: a change landing in between is either in the load or a message.
    cleanups.push(...(await bus.listen(onStateMessage)), coordination.onReconnect(() => safeResync("reconnect", true)));
    await resync({ republish: false });
    const reconcile = setInterval(() => safeResync("periodic", false), opts.reconcileIntervalMs ?? 30_000);
    reconcile.unref();
    cleanups.push(() => clearInterval(reconcile));
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    clearTimeout(expiryTimer);
    watchers.close();
    for (const cleanup of cleanups.splice(0).reverse()) {
      await Promise.resolve(cleanup()).catch(() => {});
    }
  }

  return {
    start,
    close,
    status,
    freeze,
    unfreeze,
    history: store.history,
    resync: () => resync({ republish: false }),
    /** The refusal for a target right now, or null. Synchronous: reads local state only. */
    check: (target: EmergencyTarget): AppError | null => refusalFor(current, target, Date.now()),
    /** Throws the EMERGENCY_STOP AppError when a freeze stops `target`. */
    assertAllowed(target: EmergencyTarget): void {
      const refusal = refusalFor(current, target, Date.now());
      if (refusal) throw refusal;
    },
    /** True while a freeze takes `id` out of fallback chains (global or provider:<id>). */
    isProviderFrozen: (id: string): boolean => refusalFor(current, { kind: "provider", id }, Date.now()) !== null,
    /**
     * An AbortSignal that aborts, with the EMERGENCY_STOP AppError as its reason, as soon as
     * a freeze stopping any of `targets` is applied here (at once if one already is). Streams
     * pass it to their upstream calls; call dispose() when the stream ends.
     */
    stopSignal(targets: readonly EmergencyTarget[]): { signal: AbortSignal; dispose(): void } {
      const controller = new AbortController();
      const check = () => {
        for (const target of targets) {
          const refusal = refusalFor(current, target, Date.now());
          if (refusal) {
            controller.abort(refusal);
            off();
            return;
          }
        }
      };
      const off = watchers.add(check);
      check();
      return { signal: controller.signal, dispose: off };
    },
    /** Calls `listener` with the enforced state after every change (also on local expiry). */
    onChange: (listener: (state: TEmergencyStatus) => void): (() => void) => watchers.add(listener),
    /** Current state, then every change, until `signal` aborts or the service closes. */
    watch: (signal?: AbortSignal): AsyncGenerator<TEmergencyStatus> => watchers.stream(status, signal),
  };
}

export type EmergencyService = ReturnType<typeof createEmergencyService>;
