import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import type { FindOptionsWhere, Repository } from 'typeorm';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { logLine } from '../common/log-line.js';
import { toPage, type Paged } from '../common/page.dto.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import type { ChannelDefinition } from './channel-kinds.js';
import { ChannelSender, type SendResult } from './channel-sender.js';
import { ChannelsService } from './channels.service.js';
import { DeliveryQueue, PermanentDeliveryError } from './delivery-queue.js';
import type { DeliveryResponse, ListDeliveriesQuery } from './dto/notifications.dto.js';
import { NotificationDelivery, type DeliveryAttempt } from './entities/notification-delivery.entity.js';
import { subjectOf, type Notice } from './notice.js';

/**
 * Deliveries: one catalog row per (message, channel) holding every attempt, and a job on the
 * notifications queue that carries the row's id. The job sends and records; a failed try is
 * retried with backoff until the receiver accepts or the attempts run out.
 */
@Injectable()
export class DeliveriesService implements OnModuleInit {
  private readonly logger = new Logger('Notifications');

  constructor(
    @InjectRepository(NotificationDelivery, CATALOG_CONNECTION) private readonly deliveries: Repository<NotificationDelivery>,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly channels: ChannelsService,
    private readonly sender: ChannelSender,
    private readonly queue: DeliveryQueue,
  ) {}

  onModuleInit(): void {
    this.queue.setHandler((id, attempt) => this.deliver(id, attempt));
  }

  /** Queues `notice` for every channel given. Never throws: alerting must not break what it reports on. */
  async enqueue(notice: Notice, channels: ChannelDefinition[]): Promise<string[]> {
    const ids: string[] = [];
    for (const channel of channels) {
      const row = this.newRow(notice, channel, 'queued');
      try {
        await this.deliveries.insert(row);
        await this.queue.add(row.id);
        ids.push(row.id);
      } catch (err) {
        const why = (err as Error).message;
        this.logger.error(logLine('could not queue a notification', { channel: channel.name, event: notice.event, error: why }));
        await this.deliveries
          .update({ id: row.id }, { status: 'failed', attempts: [{ attempt: 0, at: new Date().toISOString(), outcome: 'failed', answer: `not queued: ${why}`.slice(0, 500), durationMs: 0 }] })
          .catch(() => undefined);
      }
    }
    return ids;
  }

  /** Sends a test message now and reports the answer (recorded as a delivery with one attempt). */
  async test(channel: ChannelDefinition, notice: Notice): Promise<SendResult & { deliveryId: string }> {
    const row = this.newRow(notice, channel, 'queued');
    await this.deliveries.insert(row);
    const result = await this.sender.send(channel, notice, row.id, this.options.notifications!.timeoutMs);
    await this.record(row.id, [], result, 1, true);
    return { ...result, deliveryId: row.id };
  }

  /** One try of one delivery (the queue's handler). */
  private async deliver(id: string, attempt: { number: number; last: boolean }): Promise<void> {
    const row = await this.deliveries.findOneBy({ id });
    if (!row || row.status === 'delivered' || row.status === 'failed') return;
    const channel = await this.channels.find(row.channelId);
    if (!channel || !channel.enabled) {
      const why = channel ? 'the channel was disabled before it could be delivered' : 'the channel was deleted before it could be delivered';
      await this.record(id, row.attempts ?? [], { ok: false, answer: why, permanent: true, durationMs: 0 }, attempt.number, true);
      return;
    }
    const result = await this.sender.send(channel, row.notice, row.id, this.options.notifications!.timeoutMs);
    const final = result.ok || result.permanent || attempt.last;
    await this.record(id, row.attempts ?? [], result, attempt.number, final);
    if (result.ok) return;
    this.logger.warn(logLine('notification not delivered', { channel: channel.name, event: row.event, attempt: attempt.number, answer: result.answer, final }));
    if (result.permanent) throw new PermanentDeliveryError(`${channel.name}: ${result.answer}`);
    throw new Error(`${channel.name}: ${result.answer}`);
  }

  private async record(id: string, previous: DeliveryAttempt[], r: SendResult, n: number, final: boolean): Promise<void> {
    const attempt: DeliveryAttempt = {
      attempt: n,
      at: new Date().toISOString(),
      outcome: r.ok ? 'delivered' : 'failed',
      ...(r.statusCode !== undefined ? { statusCode: r.statusCode } : {}),
      answer: r.answer,
      durationMs: r.durationMs,
    };
    await this.deliveries.update(
      { id },
      {
        attempts: [...previous, attempt],
        status: r.ok ? 'delivered' : final ? 'failed' : 'retrying',
        ...(r.ok ? { deliveredAt: new Date() } : {}),
        updatedAt: new Date(),
      },
    );
  }

  private newRow(notice: Notice, channel: ChannelDefinition, status: NotificationDelivery['status']): NotificationDelivery {
    const now = new Date();
    return {
      id: randomUUID(),
      channelId: channel.id,
      channelName: channel.name,
      channelKind: channel.kind,
      event: notice.event,
      state: notice.state,
      target: notice.target?.slice(0, 64) ?? null,
      subject: subjectOf(notice),
      notice,
      status,
      attempts: [],
      deliveredAt: null,
      createdAt: now,
      updatedAt: now,
    };
  }

  async list(q: ListDeliveriesQuery): Promise<Paged<DeliveryResponse>> {
    const where: FindOptionsWhere<NotificationDelivery> = {};
    if (q.channel) where.channelId = q.channel;
    if (q.event) where.event = q.event;
    if (q.status) where.status = q.status;
    if (q.target) where.target = q.target;
    const [rows, total] = await this.deliveries.findAndCount({ where, order: { createdAt: 'DESC', id: 'DESC' }, skip: (q.page - 1) * q.limit, take: q.limit });
    return toPage(rows.map(toDeliveryResponse), total, q);
  }
}

export function toDeliveryResponse(d: NotificationDelivery): DeliveryResponse {
  return {
    id: d.id,
    channelId: d.channelId,
    channelName: d.channelName,
    channelKind: d.channelKind,
    event: d.event,
    state: d.state,
    target: d.target,
    subject: d.subject,
    status: d.status,
    attempts: d.attempts ?? [],
    recordId: d.notice?.record?.id ?? null,
    deliveredAt: d.deliveredAt,
    createdAt: d.createdAt,
  };
}
