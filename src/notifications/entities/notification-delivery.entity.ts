import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { Notice } from '../notice.js';

/** One try to hand a message to a receiver. */
export interface DeliveryAttempt {
  attempt: number;
  at: string;
  outcome: 'delivered' | 'failed';
  /** HTTP status, or the SMTP reply code. */
  statusCode?: number;
  /** What the receiver answered (its body or SMTP reply, shortened), or why it could not be reached. */
  answer: string;
  durationMs: number;
}

export const DELIVERY_STATUSES = ['queued', 'retrying', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** A message for one channel, and every attempt to deliver it. Holds no secret. */
@Entity('notification_deliveries')
@Index('idx_notification_deliveries_created', ['createdAt'])
@Index('idx_notification_deliveries_channel', ['channelId', 'createdAt'])
export class NotificationDelivery {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  channelId!: string;

  @Column({ type: 'varchar', length: 64 })
  channelName!: string;

  @Column({ type: 'varchar', length: 16 })
  channelKind!: string;

  /** A notification event, or `test`. */
  @Column({ type: 'varchar', length: 32 })
  event!: string;

  /** `alert`, `resolved`, `info` or `test`. */
  @Column({ type: 'varchar', length: 16 })
  state!: string;

  @Column({ type: 'varchar', length: 64, nullable: true })
  target!: string | null;

  @Column({ type: 'varchar', length: 255 })
  subject!: string;

  @Column({ type: 'simple-json' })
  notice!: Notice;

  @Column({ type: 'varchar', length: 16 })
  status!: DeliveryStatus;

  @Column({ type: 'simple-json', nullable: true })
  attempts!: DeliveryAttempt[] | null;

  @Column({ type: Date, nullable: true })
  deliveredAt!: Date | null;

  @CreateDateColumn()
  createdAt!: Date;

  @UpdateDateColumn()
  updatedAt!: Date;
}
