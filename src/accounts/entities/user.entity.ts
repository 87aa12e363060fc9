import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A person who signs in to the dashboard (or the API) with a password. */
@Entity('users')
@Index('uq_users_username', ['username'], { unique: true })
export class User {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  /** Lower-case login name; also the actor id in the audit trail. */
  @Column({ type: 'varchar', length: 64 })
  username!: string;

  /** `viewer`, `operator` or `admin`. */
  @Column({ type: 'varchar', length: 16 })
  role!: string;

  /** bcrypt hash (`$2b$...`); the password itself is never stored. */
  @Column({ type: 'varchar', length: 100 })
  passwordHash!: string;

  @Column({ type: 'boolean', default: false })
  disabled!: boolean;

  /** Wrong passwords since the last good one. */
  @Column({ type: 'int', default: 0 })
  failedLogins!: number;

  /** Logins are refused until then (after too many wrong passwords). */
  @Column({ type: Date, nullable: true })
  lockedUntil!: Date | null;

  @Column({ type: Date, nullable: true })
  lastLoginAt!: Date | null;

  /** Sessions started before this are ended (password reset, disable). */
  @Column({ type: Date, nullable: true })
  sessionsValidAfter!: Date | null;

  @CreateDateColumn()
  createdAt!: Date;

  @UpdateDateColumn()
  updatedAt!: Date;
}
