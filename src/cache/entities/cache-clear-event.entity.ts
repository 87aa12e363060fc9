import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One `DELETE /cache`: who cleared what, and how many items went. */
@Entity('cache_clear_events')
@Index('idx_cache_clear_events_occurred', ['occurredAt'])
export class CacheClearEvent {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: Date })
  occurredAt!: Date;

  @Column({ type: 'varchar', length: 128 })
  actorId!: string;

  @Column({ type: 'varchar', length: 128, nullable: true })
  actorName!: string | null;

  /** `all`, `database`, `session`, `file`, `memory` or `redis`. */
  @Column({ type: 'varchar', length: 16 })
  cacheType!: string;

  @Column({ type: 'simple-json', nullable: true })
  keys!: string[] | null;

  @Column({ type: 'int', default: 0 })
  itemsCleared!: number;

  /** Per cache kind: items cleared, or why it was skipped or failed. */
  @Column({ type: 'simple-json', nullable: true })
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  results!: Array<Record<string, any>> | null;

  @Column({ type: 'varchar', length: 16 })
  outcome!: string;

  @Column({ type: 'int', default: 0 })
  durationMs!: number;
}
