import type { StatsRegistry } from '@core/stats';
import type { Logger } from '../logger.js';
import { parseServiceMessage, type ServiceMessage } from '../protocol.js';
import type { SupervisedService } from './service.js';

/** Longest rendering of an offending value in a log line (a service may send megabytes). */
const MAX_VALUE_PREVIEW = 200;

function preview(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > MAX_VALUE_PREVIEW ? `${text.slice(0, MAX_VALUE_PREVIEW)}…` : text;
}

/**
 * The receiving end of the services' IPC channels: every message is validated
 * (zod) before it reaches the stats tracker. A bad one is counted on its
 * service (`badMessages`) and logged once per service and kind with the
 * offending value — never thrown: one service's garbage must not take the
 * manager and every other service down.
 */
export class ServiceMessages {
  private readonly reported = new Set<string>();

  constructor(
    private readonly stats: StatsRegistry,
    private readonly log: Logger,
  ) {}

  /** Handles one raw message of `service`. Never throws, never rejects. */
  handle(service: SupervisedService, raw: unknown): void {
    const parsed = parseServiceMessage(raw);
    if (!parsed.ok) {
      this.refuse(service, parsed.kind, parsed.reason, parsed.value);
      return;
    }
    this.record(service.config.name, parsed.message).catch((error: unknown) =>
      this.refuse(service, `tracker.${parsed.message.event}`, (error as Error).message, raw),
    );
  }

  private refuse(service: SupervisedService, kind: string, reason: string, value: unknown): void {
    service.noteBadMessage();
    const key = `${service.config.name}\u0000${kind}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.log.warn(
      { service: service.config.name, kind, reason, value: preview(value) },
      `refused a bad message from ${service.config.name} (${kind}: ${reason}); further ones of this kind are only counted`,
    );
  }

  private async record(service: string, message: ServiceMessage): Promise<void> {
    const tracker = this.stats.tracker(service);
    if (message.event === 'hit') await tracker.recordHit({ addCostSavings: message.addCostSavings ?? true });
    else if (message.event === 'miss')
      await tracker.recordMiss({
        isExpired: message.expired === true,
        isUninitialized: message.uninitialized === true,
      });
    else await tracker.recordCleanup(message.entriesCleaned, { success: message.success ?? true });
  }
}
