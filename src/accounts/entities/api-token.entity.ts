import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A long-lived token for scripts, made by a user from the dashboard; only its hash is kept. */
@Entity('api_tokens')
@Index('uq_api_tokens_hash', ['tokenHash'], { unique: true })
@Index('idx_api_tokens_user', ['userId'])
export class ApiToken {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  userId!: string;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  /** SHA-256 (hex) of the token. */
  @Column({ type: 'varchar', length: 64 })
  tokenHash!: string;

  /** The token's first characters, to recognise it in a list. */
  @Column({ type: 'varchar', length: 16 })
  prefix!: string;

  /** At most the owner's role; the owner's current role caps it at each use. */
  @Column({ type: 'varchar', length: 16 })
  role!: string;

  @Column({ type: Date })
  createdAt!: Date;

  @Column({ type: Date, nullable: true })
  expiresAt!: Date | null;

  @Column({ type: Date, nullable: true })
  lastUsedAt!: Date | null;

  @Column({ type: Date, nullable: true })
  revokedAt!: Date | null;
}
