import { describe, expect, it } from '@jest/globals';
import { Role } from '../auth/roles.js';
import { auditEntryFor } from './audit-recorder.service.js';
import { AuditOutcome, AuditSeverity } from './entities/audit-event.entity.js';

describe('the audit mapping of domain events', () => {
  const alice = { sub: 'alice', role: Role.Operator };

  it('turns a request into an action on its resource, by the actor who asked', () => {
    const e = auditEntryFor('backup.requested', { actor: alice, record: { id: 'b1', target: 'app', status: 'QUEUED', metadata: { big: true } } }, []);
    expect(e).toMatchObject({ action: 'backup.create', actor: alice, resourceType: 'backup', resource: 'b1', outcome: AuditOutcome.Success, severity: AuditSeverity.Info });
    // only the record's listed scalar fields are kept
    expect(e?.metadata.record).toEqual({ target: 'app', status: 'QUEUED' });
  });

  it('attributes a job outcome to the user who triggered it, else to the system, and marks failures', () => {
    expect(auditEntryFor('backup.failed', { record: { id: 'b1', triggeredBy: 'user:bob' } }, [])).toMatchObject({
      action: 'backup.complete',
      actor: { sub: 'bob' },
      outcome: AuditOutcome.Failure,
      severity: AuditSeverity.Error,
    });
    expect(auditEntryFor('backup.completed', { record: { id: 'b2', triggeredBy: 'schedule:s1' } }, [])?.actor).toBe('system');
    expect(auditEntryFor('verify.corrupted', { record: { id: 'b3' } }, [])?.severity).toBe(AuditSeverity.Critical);
    expect(auditEntryFor('backup.deleted', { actor: alice, record: { id: 'b4' } }, [])?.severity).toBe(AuditSeverity.Warning);
  });

  it('skips progress notices and events of namespaces it does not audit', () => {
    expect(auditEntryFor('backup.progress', { record: { id: 'b1' } }, [])).toBeUndefined();
    expect(auditEntryFor('backup.started', { record: { id: 'b1' } }, [])).toBeUndefined();
    expect(auditEntryFor('user.created', { actor: alice }, [])).toBeUndefined();
  });

  it('never records a known secret, wherever the payload carries it', () => {
    const secret = 's3cr3t-password';
    const e = auditEntryFor('restore.failed', { run: { id: 'r1', errorMessage: `auth failed for ${secret}` }, detail: { note: `pw=${secret}` } }, [secret]);
    expect(e?.resource).toBe('r1');
    expect(JSON.stringify(e)).not.toContain(secret);
  });
});
