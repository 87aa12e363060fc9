import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { existsSync, readFileSync } from 'node:fs';
import { arch, cpus, hostname, loadavg, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Repository } from 'typeorm';
import { BackupRecord } from '../backup/entities/backup-record.entity.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { redact } from '../common/redact.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { EnginesService } from '../engines/engines.service.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { ARTIFACT_STORAGE, type ArtifactStorage } from '../storage/storage.interface.js';
import { TargetsService, type ResolvedTarget } from '../targets/targets.service.js';
import type { SystemInfo, TargetInfo } from './dto/system-info.dto.js';
import { SystemHealthService } from './system-health.service.js';
import { withTimeout } from './with-timeout.js';

const STARTED_AT = new Date();

/** What `GET /system/info` shows: process, clients, storage, targets and queue. */
@Injectable()
export class SystemInfoService {
  private readonly version = packageVersion();

  constructor(
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    @Inject(ARTIFACT_STORAGE) private readonly storage: ArtifactStorage,
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    private readonly engines: EnginesService,
    private readonly targets: TargetsService,
    private readonly queue: JobsQueue,
    private readonly health: SystemHealthService,
  ) {}

  async info(): Promise<SystemInfo> {
    const timeout = this.health.monitoring.checkTimeoutMs;
    const [clients, storage, targets, queue] = await Promise.all([
      this.clients(timeout),
      this.storage.usage().then(
        (u) => ({ ...u, dir: this.options.storageDir }),
        (err: Error) => ({ usedBytes: null, freeBytes: null, totalBytes: null, dir: this.options.storageDir, error: err.message }),
      ),
      Promise.all(this.options.targets.map((t) => this.target(t.name, timeout))),
      this.queueState(timeout),
    ]);
    const mem = process.memoryUsage();
    return {
      version: this.version,
      startedAt: STARTED_AT,
      uptimeSeconds: Math.round(process.uptime()),
      process: {
        pid: process.pid,
        nodeVersion: process.version,
        platform: platform(),
        arch: arch(),
        hostname: hostname(),
        cpus: cpus().length,
        loadAverage: loadavg(),
        memory: { rss: mem.rss, heapTotal: mem.heapTotal, heapUsed: mem.heapUsed, external: mem.external },
      },
      clients,
      storage,
      targets,
      queue,
    };
  }

  private async clients(timeout: number): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    await Promise.all(
      this.engines.all().map(async (e) => {
        out[e.kind] = await withTimeout(e.clientVersion(), timeout, `${e.kind} client version`).catch((err: Error) => `unavailable: ${err.message}`);
      }),
    );
    return out;
  }

  private async target(name: string, timeout: number): Promise<TargetInfo> {
    const t = this.targets.get(name);
    const [last, lastGood] = await Promise.all([
      this.records.findOne({ where: { target: name }, order: { createdAt: 'DESC', id: 'DESC' } }),
      this.health.newestGood(name),
    ]);
    const summary = (r: BackupRecord | null) =>
      r ? { id: r.id, status: r.status, createdAt: r.createdAt, completedAt: r.completedAt, sizeBytes: r.sizeBytes } : null;
    const base: TargetInfo = {
      name,
      engine: t.engine,
      database: t.database,
      sizeBytes: null,
      tableCount: null,
      rowEstimate: null,
      lastBackup: summary(last),
      lastSuccessfulBackup: summary(lastGood),
    };
    let resolved: ResolvedTarget | undefined;
    try {
      resolved = await this.targets.resolve(name);
      const stats = await withTimeout(this.engines.for(t.engine).stats(resolved), timeout, `statistics of ${name}`);
      return { ...base, ...stats };
    } catch (err) {
      return { ...base, error: redact((err as Error).message, this.targets.secretsOf(resolved)) };
    }
  }

  private async queueState(timeout: number) {
    try {
      const [counts, workers] = await withTimeout(Promise.all([this.queue.counts(), this.queue.workers()]), timeout, 'queue state');
      return { prefix: this.options.queuePrefix, counts, workers: workers.length };
    } catch (err) {
      return { prefix: this.options.queuePrefix, counts: {}, workers: null, error: (err as Error).message };
    }
  }
}

/** This package's version, from the nearest package.json above this file. */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'backup-manager' && pkg.version) return pkg.version;
      } catch {
        /* keep looking */
      }
    }
    dir = dirname(dir);
  }
  return 'unknown';
}
