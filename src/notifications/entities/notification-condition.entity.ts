import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A condition that alerts (a target's backups failing, a stale target, low space...): whether it
 * holds now, when it last alerted (de-duplication window), and how often it recurred since.
 */
@Entity('notification_conditions')
export class NotificationCondition {
  /** `<event>:<target>` (or the event alone for conditions of the whole installation). */
  @PrimaryColumn({ type: 'varchar', length: 160 })
  key!: string;

  @Column({ type: 'varchar', length: 32 })
  event!: string;

  @Column({ type: 'varchar', length: 64, nullable: true })
  target!: string | null;

  @Column({ type: 'boolean', default: false })
  active!: boolean;

  /** When it started holding (this time). */
  @Column({ type: Date })
  firstAt!: Date;

  /** Its latest occurrence. */
  @Column({ type: Date })
  lastAt!: Date;

  /** When an alert last went out. */
  @Column({ type: Date, nullable: true })
  alertedAt!: Date | null;

  @Column({ type: Date, nullable: true })
  resolvedAt!: Date | null;

  /** Occurrences since it started holding. */
  @Column({ type: 'int', default: 0 })
  occurrences!: number;

  /** Occurrences inside the window that sent nothing. */
  @Column({ type: 'int', default: 0 })
  suppressed!: number;

  /** Summary of the latest occurrence. */
  @Column({ type: 'varchar', length: 500, nullable: true })
  summary!: string | null;
}
