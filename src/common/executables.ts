import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The first of `names` found as an executable on PATH (e.g. `mariadb-dump` before `mysqldump`). */
export function findExecutable(names: string[], path = process.env.PATH ?? '/usr/bin:/bin'): string | undefined {
  for (const name of names) {
    for (const dir of path.split(delimiter)) {
      if (!dir) continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
        return name;
      } catch {
        // not in this directory
      }
    }
  }
  return undefined;
}
