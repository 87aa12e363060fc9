import { Module, type DynamicModule, type MiddlewareConsumer, type NestModule, type Type } from '@nestjs/common';
import { GUARDS_METADATA } from '@nestjs/common/constants.js';
import { ModulesContainer } from '@nestjs/core';
import { AuthGuard } from '../auth/auth.guard.js';
import { CatalogModule } from '../catalog/catalog.module.js';
import { AuditController } from './audit.controller.js';
import { AuditRecorder } from './audit-recorder.service.js';
import { AuditService } from './audit.service.js';
import { RefusalAuditor } from './refusal-auditor.js';
import { RequestContextMiddleware } from './request-context.middleware.js';

/**
 * The append-only audit trail: records domain events of every module, and refused requests on the
 * library's routes (those guarded by its AuthGuard), with request id and client IP.
 */
@Module({})
export class AuditModule implements NestModule {
  constructor(private readonly modules: ModulesContainer) {}

  static register(opts: { controllers: boolean }): DynamicModule {
    return {
      module: AuditModule,
      imports: [CatalogModule],
      controllers: opts.controllers ? [AuditController] : [],
      providers: [AuditService, AuditRecorder, RefusalAuditor, RequestContextMiddleware],
      exports: [AuditService],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    const guarded = new Set<Type>();
    for (const mod of this.modules.values()) {
      for (const wrapper of mod.controllers.values()) {
        const type = wrapper.metatype as Type | undefined;
        const guards = type ? ((Reflect.getMetadata(GUARDS_METADATA, type) as unknown[] | undefined) ?? []) : [];
        if (type && guards.includes(AuthGuard)) guarded.add(type);
      }
    }
    if (guarded.size) consumer.apply(RequestContextMiddleware).forRoutes(...guarded);
  }
}
