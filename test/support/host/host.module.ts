import { Body, CanActivate, Controller, ExecutionContext, Get, Injectable, Module, Post, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
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

/** The host's own authentication: `x-user: <id>:<role>` becomes `req.user`. */
@Injectable()
export class HostAuthGuard implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string>; user?: unknown }>();
    const m = /^([a-z0-9]+):([a-z]+)$/.exec(req.headers['x-user'] ?? '');
    if (!m) return false;
    req.user = { id: m[1], roles: [m[2]] };
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

  @OnEvent(BackupEvents.Requested)
  onRequested(e: BackupEvent): void {
    this.requested.push(e.record.id);
  }

  /** What a host does before a risky migration. */
  backupBeforeMigration() {
    return this.backups.request({ target: 'app', triggeredBy: 'host:pre-migration', description: 'before migration 42' });
  }
}

@Controller()
class NotesController {
  constructor(@InjectRepository(Note) private readonly notes: Repository<Note>) {}

  @Get('ping')
  ping() {
    return { pong: true };
  }

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
}

/**
 * A small host app: its own entity, route and DataSource on PostgreSQL, plus backup-manager
 * with the host's DataSource as target and catalog, the host's guard, under `/ops`.
 */
@Module({})
export class HostAppModule {
  static forSettings(s: HostSettings): DynamicModule {
    return {
      module: HostAppModule,
      imports: [
        // The host's own app-wide modules; the library uses them instead of importing its own.
        EventEmitterModule.forRoot(),
        ScheduleModule.forRoot(),
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
          }),
          guard: HostAuthGuard,
          routePrefix: 'ops',
          eventEmitter: false,
          scheduleModule: false,
        }),
      ],
      controllers: [NotesController],
      providers: [HostOps, { provide: APP_GUARD, useClass: MaintenanceGuard }],
    };
  }
}
