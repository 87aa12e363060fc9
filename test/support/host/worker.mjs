// A host's own worker entry point (plain JavaScript, ESM), as the README's recipe writes it in
// TypeScript: a Nest application context with the host's TypeORM DataSource, its EventEmitterModule
// and ScheduleModule, and BackupManagerWorkerModule.forRootAsync. No HTTP and no JWT secret.
// Settings come as JSON in HOST_SETTINGS; prints "worker ready" once it runs.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { BackupManagerWorkerModule } from '../../../dist/src/index.js';

const s = JSON.parse(process.env.HOST_SETTINGS);

class HostWorker {}
Module({
  imports: [
    EventEmitterModule.forRoot(),
    ScheduleModule.forRoot(),
    TypeOrmModule.forRoot({ type: 'postgres', url: `postgres://postgres@127.0.0.1:5432/${s.database}`, logging: false }),
    BackupManagerWorkerModule.forRootAsync({
      inject: [DataSource],
      useFactory: (ds) => ({
        targets: [{ name: 'app', dataSource: ds }],
        catalog: { dataSource: ds },
        redisUrl: s.redisUrl,
        queuePrefix: s.queuePrefix,
        storageDir: s.storageDir,
        tempDir: s.tempDir,
        // Ticks run here too; still no default plan and no drill unless `schedules` asks.
        scheduler: true,
      }),
    }),
  ],
})(HostWorker);

const app = await NestFactory.createApplicationContext(HostWorker, { logger: ['error', 'warn'] });
app.enableShutdownHooks();
console.log('worker ready');
