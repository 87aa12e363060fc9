import { AuditEvent } from './audit-event.entity.js';

/** This module's catalog entities (added to the catalog DataSource). */
export const AUDIT_ENTITIES: Function[] = [AuditEvent];
