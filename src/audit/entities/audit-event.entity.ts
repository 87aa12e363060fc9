import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export enum AuditOutcome {
  Success = 'success',
  Failure = 'failure',
}

export enum AuditSeverity {
  Info = 'info',
  Warning = 'warning',
  Error = 'error',
  Critical = 'critical',
}

/** One entry of the append-only audit trail. Rows are inserted, never updated or deleted by the API. */
@Entity('audit_events')
@Index('idx_audit_events_occurred', ['occurredAt'])
@Index('idx_audit_events_action', ['action'])
@Index('idx_audit_events_actor', ['actorId'])
@Index('idx_audit_events_resource', ['resource'])
export class AuditEvent {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: Date })
  occurredAt!: Date;

  /** Token subject, `system` for scheduled or background work, `anonymous` for refused requests. */
  @Column({ type: 'varchar', length: 128 })
  actorId!: string;

  @Column({ type: 'varchar', length: 128, nullable: true })
  actorName!: string | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  actorRole!: string | null;

  /** `backup.create`, `backup.delete`, `restore.request`, `cache.clear`, `auth.denied`, ... */
  @Column({ type: 'varchar', length: 64 })
  action!: string;

  /** Kind of resource: `backup`, `restore`, `schedule`, `cache`, `route`, ... */
  @Column({ type: 'varchar', length: 32, nullable: true })
  resourceType!: string | null;

  /** Id of the resource (a backup id, a schedule id, a route). */
  @Column({ type: 'varchar', length: 255, nullable: true })
  resource!: string | null;

  @Column({ type: 'varchar', length: 16 })
  outcome!: AuditOutcome;

  @Column({ type: 'varchar', length: 16 })
  severity!: AuditSeverity;

  @Column({ type: 'varchar', length: 64, nullable: true })
  requestId!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  clientIp!: string | null;

  /** Redacted details: never passwords, tokens or secrets. */
  @Column({ type: 'simple-json', nullable: true })
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  metadata!: Record<string, any> | null;
}
