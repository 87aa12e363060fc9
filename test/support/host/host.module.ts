import { Body, CanActivate, Controller, ExecutionContext, Get, Injectable, Module, Post, SetMetadata, type DynamicModule } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { IsString, Length } from 'class-validator';
import { DataSource, type Repository } from 'typeorm';
// The host imports the library through its public API only.
import { BackupEvents, BackupManagerModule, BackupsService, type BackupEvent } from '../../../src/index.js';
import { CreateNotes1700000000000, Note } from './note.entity.js';

class CreateNoteDto {
  @IsString()
  @Length(1, 200)
  text!: string;
}

/** Host routes anyone may call. */
const Public = () => SetMetadata('host:public', true);

/**
 * The host's own authentication, as a global guard: `x-user: <id>:<role>[,<role>]` becomes
 * `req.user`. Counts its instances and runs, so tests see it built once and run once per request.
 */
@Injectable()
export class HostAuthGuard implements CanActivate {
  static instances = 0;
  static runs = 0;

  constructor(private readonly reflector: Reflector) {
    HostAuthGuard.instances++;
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>('host:public', [ctx.getHandler(), ctx.getClass()])) return true;
    HostAuthGuard.runs++;
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string>; user?: unknown }>();
    const m = /^([a-z0-9]+):([a-z:,-]+)$/.exec(req.headers['x-user'] ?? '');
    if (!m) return false;
    req.user = { id: m[1], roles: m[2].split(',') };
    return true;
  }
}

/** A global guard of the host: blocks any request carrying `x-maintenance`, the library's routes included. */
@Injectable()
export class MaintenanceGuard implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    return !ctx.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-maintenance'];
  }
}

/** Host code listening to the library's events and starting backups through the facade. */
@Injectable()
export class HostOps {
  readonly requested: string[] = [];

  constructor(private readonly backups: BackupsService) {}

  /** Every backup completion this process heard: id, status, and whether the record came whole. */
  readonly completed: Array<{ id: string; status: string; sizeBytes: unknown; createdAt: unknown }> = [];
  /** Seconds in which the host's own cron fired, with how many times it fired in each. */
  readonly cronTicks = new Map<number, number>();

  @OnEvent(BackupEvents.Requested)
  onRequested(e: BackupEvent): void {
    this.requested.push(e.record.id);
  }

  @OnEvent(BackupEvents.Completed)
  onCompleted(e: BackupEvent): void {
    this.completed.push({ id: e.record.id, status: e.record.status, sizeBytes: e.record.sizeBytes, createdAt: e.record.createdAt });
  }

  /** The host's own cron job: with a second ScheduleModule it would fire twice a second. */
  @Cron('* * * * * *')
  everySecond(): void {
    const s = Math.floor(Date.now() / 1000);
    this.cronTicks.set(s, (this.cronTicks.get(s) ?? 0) + 1);
  }

  /** What a host does before a risky migration. */
  backupBeforeMigration() {
    return this.backups.request({ target: 'app', triggeredBy: 'host:pre-migration', description: 'before migration 42' });
  }
}

@Controller()
class NotesController {
  constructor(@InjectRepository(Note) private readonly notes: Repository<Note>) {}

  @Public()
  @Get('ping')
  ping() {
    return { pong: true };
  }

  @Public()
  @Post('notes')
  create(@Body() dto: CreateNoteDto) {
    return this.notes.save(this.notes.create({ text: dto.text }));
  }
}

export interface HostSettings {
  database: string;
  redisUrl: string;
  queuePrefix: string;
  storageDir: string;
  tempDir: string;
  /** How the library is told the host authenticates: its guard class (default), or `'global'`. */
  libraryGuard?: 'class' | 'global';
  /** Leave out the host's EventEmitterModule / ScheduleModule (to see the library's start-up error). */
  eventEmitter?: boolean;
  scheduleModule?: boolean;
  /** Library options to add or override. */
  extra?: Record<string, unknown>;
}

/**
 * A small host app: its own entity, routes, global guards, `@Cron` job and DataSource on
 * PostgreSQL, its own EventEmitterModule and ScheduleModule, plus backup-manager with the host's
 * DataSource as target and catalog, authenticated by the host, under `/ops`.
 */
@Module({})
export class HostAppModule {
  static forSettings(s: HostSettings): DynamicModule {
    return {
      module: HostAppModule,
      imports: [
        // The host's own app-wide modules; the library uses them instead of importing its own.
        ...(s.eventEmitter === false ? [] : [EventEmitterModule.forRoot()]),
        ...(s.scheduleModule === false ? [] : [ScheduleModule.forRoot()]),
        TypeOrmModule.forRoot({
          type: 'postgres',
          host: '127.0.0.1',
          port: 5432,
          username: 'postgres',
          database: s.database,
          entities: [Note],
          migrations: [CreateNotes1700000000000],
          migrationsRun: true,
          logging: false,
        }),
        TypeOrmModule.forFeature([Note]),
        BackupManagerModule.forRootAsync({
          inject: [DataSource],
          useFactory: (ds: DataSource) => ({
            targets: [{ name: 'app', dataSource: ds }],
            catalog: { dataSource: ds },
            redisUrl: s.redisUrl,
            queuePrefix: s.queuePrefix,
            storageDir: s.storageDir,
            tempDir: s.tempDir,
            ...s.extra,
          }),
          guard: s.libraryGuard === 'global' ? 'global' : HostAuthGuard,
          routePrefix: 'ops',
        }),
      ],
      controllers: [NotesController],
      providers: [
        HostOps,
        HostAuthGuard,
        { provide: APP_GUARD, useClass: MaintenanceGuard },
        { provide: APP_GUARD, useExisting: HostAuthGuard },
      ],
    };
  }
}
