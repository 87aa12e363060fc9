import type { RestoreRun } from './entities/restore-run.entity.js';

/**
 * What a restore run that stopped midway left in its destination, from what it recorded: whether
 * it created the database (`metadata.createdDatabase`; with `createdAtCommit`, only as its
 * commit) and whether its commit had started (`metadata.commitStartedAt`, written right before
 * PostgreSQL's COMMIT or MySQL's swap).
 */
export function destinationState(run: RestoreRun): string {
  const db = run.database;
  const created = run.metadata?.createdDatabase === true;
  const committing = typeof run.metadata?.commitStartedAt === 'string';
  const who = created ? `Database ${db}, which this restore created,` : db;
  if (run.engine === 'mysql') {
    if (!committing) {
      return `${who} holds ${created ? 'nothing of the backup' : 'its previous contents'}: the backup was being loaded into a scratch database, and the swap into ${db} never started (the scratch database is dropped by the scratch janitor).`;
    }
    return (
      `The swap of the loaded tables into ${db} had started: its tables are either all ${created ? 'missing' : 'the previous ones'} or all the backup's (one RENAME TABLE), ` +
      `but views, triggers, routines and events may be missing if it stopped between those steps, and a database bm_old_<random> left on the server would hold the tables it replaced.`
    );
  }
  if (created && run.metadata?.createdAtCommit === true) {
    // A whole custom archive: the database comes into being as the scratch database renamed to it.
    if (!committing) {
      return `Database ${db} does not exist and holds nothing of the backup: this restore creates it by renaming the scratch database it loads into, once the whole backup was verified and loaded, and it never got that far (the scratch database is dropped by the scratch janitor).`;
    }
    return `Database ${db} either does not exist (nothing of the backup) or holds the whole backup ${run.backupId}: the rename of the loaded scratch database into place had started when it stopped.`;
  }
  if (created) {
    // Loaded in one transaction, or (a whole custom archive) into a scratch database renamed into its place.
    if (!committing) return `${who} holds nothing of the backup: it is committed (or renamed into place from a scratch database) only after the whole backup was verified and loaded, and the restore never got that far.`;
    return `${who} holds either nothing of the backup (it may be empty or gone) or the whole backup ${run.backupId}: its commit (or rename into place) had started when it stopped.`;
  }
  if (!committing) {
    return `${who} holds its previous contents: the restore runs in one transaction, committed only after the whole backup was verified, and it never got that far.`;
  }
  const tables = Array.isArray(run.metadata?.tables) ? (run.metadata.tables as string[]) : undefined;
  const restored = tables ? `the whole backup ${run.backupId} in tables ${tables.join(', ')} (no other table is touched)` : `the whole backup ${run.backupId}`;
  return `${who} holds either its previous contents or ${restored}: the restore runs in one transaction, and its commit had been sent when it stopped; compare the tables to tell which.`;
}

/** The reason recorded on a run whose worker stopped while running it (it is never run again). */
export function interruptedMessage(run: RestoreRun, detail?: string): string {
  return (
    `The restore was interrupted: its worker stopped while running it (killed, out of memory, or frozen past its job lock${detail ? `; ${detail}` : ''}). ` +
    `It will not run again without a new request. ${destinationState(run)}`
  );
}

/** The reason recorded on a run a shutdown stopped before it committed. */
export function cancelledMessage(run: RestoreRun, createdDropped: boolean): string {
  const state =
    run.intoOtherDatabase && run.metadata?.createdAtCommit === true
      ? `database ${run.database} was not created (this restore creates it only at its commit)`
      : run.intoOtherDatabase && run.metadata?.createdDatabase === true
      ? `database ${run.database}, which this restore had created, was ${createdDropped ? 'dropped again' : 'left empty (drop it if you do not need it)'}`
      : run.engine === 'mysql'
        ? `${run.database} holds its previous contents (nothing was swapped in)`
        : `${run.database} holds its previous contents (nothing was committed)`;
  return `The restore was stopped by a worker shutdown before it committed: ${state}. It will not run again without a new request.`;
}
