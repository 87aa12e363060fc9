import { CreateAuditEvents1763800300000 } from './1763800300000-create-audit-events.js';

/** This module's catalog migrations (timestamps in the 17638003xxxxx range). */
export const AUDIT_MIGRATIONS: Function[] = [CreateAuditEvents1763800300000];
