import { Inject, Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, type Repository } from 'typeorm';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { isUniqueViolation } from '../catalog/unique-violation.js';
import { APP_EVENTS } from '../common/app-events.js';
import { logLine } from '../common/log-line.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { ChannelsService } from './channels.service.js';
import { DeliveriesService } from './deliveries.service.js';
import { NotificationCondition } from './entities/notification-condition.entity.js';
import type { Linker } from './messages.js';
import { AlertEvents } from './notification-events.js';
import type { Notice } from './notice.js';

/** What became of a raised condition. */
export type RaiseOutcome = 'alerted' | 'reminded' | 'suppressed';

/**
 * Conditions and their de-duplication. A condition (`backup.failed:app`) alerts when it starts,
 * and again only once the window has passed since its last alert; a clear sends "resolved" once.
 * Every decision is one conditional UPDATE (or INSERT) in the catalog, so processes deciding at
 * the same moment (two workers, every replica's checks) send one message between them.
 */
@Injectable()
export class AlertsService {
  private readonly logger = new Logger('Notifications');
  /** Turns a record into its link, when a public URL is configured. */
  readonly link: Linker;

  constructor(
    @InjectRepository(NotificationCondition, CATALOG_CONNECTION) private readonly conditions: Repository<NotificationCondition>,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly channels: ChannelsService,
    private readonly deliveries: DeliveriesService,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
  ) {
    const base = options.notifications?.publicUrl?.replace(/\/+$/, '');
    this.link = (type, id) => (base ? `${base}/${type === 'backup' ? 'backups' : 'restores'}/${id}` : undefined);
  }

  /** A condition holds (again): alert unless it alerted within the window. */
  async raise(key: string, notice: Notice): Promise<RaiseOutcome> {
    const outcome = await this.decide(key, notice);
    if (outcome === 'suppressed') {
      this.logger.log(logLine('alert suppressed (de-duplicated)', { condition: key }));
      return outcome;
    }
    await this.send(notice);
    this.events.emit(AlertEvents.Raised, { notice, condition: key });
    return outcome;
  }

  /** A condition no longer holds: "resolved" goes out if it was alerting. */
  async clear(key: string, resolved: (c: NotificationCondition) => Notice): Promise<boolean> {
    const res = await this.conditions.update({ key, active: true }, { active: false, resolvedAt: new Date() });
    if (!res.affected) return false;
    const c = await this.conditions.findOneBy({ key });
    if (!c) return false;
    const notice = resolved(c);
    await this.send(notice);
    this.events.emit(AlertEvents.Resolved, { notice, condition: key });
    return true;
  }

  /** A one-off message (a success, a restore, a digest): no condition, no de-duplication. */
  async inform(notice: Notice): Promise<void> {
    await this.send(notice);
  }

  /** Conditions, those that hold first. */
  list(): Promise<NotificationCondition[]> {
    return this.conditions.find({ order: { active: 'DESC', lastAt: 'DESC' }, take: 500 });
  }

  private async send(notice: Notice): Promise<void> {
    if (this.options.notifications?.enabled === false) return;
    const channels = await this.channels.subscribedTo(notice.event);
    if (channels.length) await this.deliveries.enqueue(notice, channels);
  }

  private async decide(key: string, notice: Notice): Promise<RaiseOutcome> {
    const now = new Date();
    const summary = notice.summary.slice(0, 500);
    const fresh: NotificationCondition = {
      key,
      event: notice.event,
      target: notice.target?.slice(0, 64) ?? null,
      active: true,
      firstAt: now,
      lastAt: now,
      alertedAt: now,
      resolvedAt: null,
      occurrences: 1,
      suppressed: 0,
      summary,
    };
    try {
      await this.conditions.insert(fresh);
      return 'alerted';
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    // It held before: starting again...
    const { key: _key, ...restart } = fresh; // the key is the criterion, not a change
    const restarted = await this.conditions.update({ key, active: false }, restart);
    if (restarted.affected) return 'alerted';
    // ...still holding, and the window since its last alert has passed...
    const cutoff = new Date(now.getTime() - this.options.notifications!.dedupWindowMs);
    const reminded = await this.conditions.update(
      { key, active: true, alertedAt: LessThan(cutoff) },
      { alertedAt: now, lastAt: now, occurrences: () => 'occurrences + 1', summary },
    );
    if (reminded.affected) return 'reminded';
    // ...or inside the window: counted, nothing sent.
    await this.conditions.update({ key }, { lastAt: now, occurrences: () => 'occurrences + 1', suppressed: () => 'suppressed + 1', summary });
    return 'suppressed';
  }
}
