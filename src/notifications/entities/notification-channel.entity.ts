import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { ChannelKind, ChannelSecrets, ChannelSettings } from '../channel-kinds.js';

/** A notification channel made through the API (configured channels live in the options). */
@Entity('notification_channels')
@Index('idx_notification_channels_name', ['name'], { unique: true })
export class NotificationChannel {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ type: 'varchar', length: 16 })
  kind!: ChannelKind;

  @Column({ type: 'boolean', default: true })
  enabled!: boolean;

  /** Subscribed events; null: the defaults. */
  @Column({ type: 'simple-json', nullable: true })
  events!: string[] | null;

  /** What may be shown (SMTP host, recipients, chat id...). */
  @Column({ type: 'simple-json' })
  settings!: ChannelSettings;

  /** Write-only values (SMTP password, webhook URL, HMAC key, bot token); never leave the service. */
  @Column({ type: 'simple-json', nullable: true })
  secrets!: ChannelSecrets | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  createdBy!: string | null;

  @CreateDateColumn()
  createdAt!: Date;

  @UpdateDateColumn()
  updatedAt!: Date;
}
