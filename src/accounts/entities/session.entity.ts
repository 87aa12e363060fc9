import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One login: the session JWT names it (`sid`), and logout or expiry ends it here. */
@Entity('sessions')
@Index('idx_sessions_user', ['userId'])
export class Session {
  /** Random, 32 hex characters. */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  userId!: string;

  @Column({ type: Date })
  createdAt!: Date;

  /** The session ends then, however active it is. */
  @Column({ type: Date })
  expiresAt!: Date;

  @Column({ type: Date, nullable: true })
  endedAt!: Date | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  clientIp!: string | null;
}
