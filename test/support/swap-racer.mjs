// Swaps a directory of a cache root with a symlink to a directory outside it, as fast as it can,
// until a stop file appears: node swap-racer.mjs <root> <outside> <stopFile> <files>
// `<root>/d` is a real directory holding files f-0..f-<files-1> (the outside directory holds files
// of the same names); `<root>/lnk` is a symlink to <outside>. One cycle renames d away, puts the
// link in its place, and puts both back; every few cycles it repairs what a clear removed.
// Prints the number of cycles done when it stops.
import { existsSync, lstatSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [root, outside, stopFile, files] = process.argv.slice(2);
const count = Number(files);
const d = join(root, 'd');
const hold = join(root, 'hold');
const lnk = join(root, 'lnk');
const attempt = (fn) => {
  try {
    fn();
  } catch {
    /* the clear got there first */
  }
};
const kind = (p) => {
  try {
    const st = lstatSync(p);
    return st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    return 'none';
  }
};

function repair() {
  if (kind(d) === 'link' && kind(lnk) === 'none') attempt(() => renameSync(d, lnk));
  if (kind(hold) === 'dir' && kind(d) === 'none') attempt(() => renameSync(hold, d));
  if (kind(d) === 'none') attempt(() => mkdirSync(d));
  if (kind(lnk) === 'none') attempt(() => symlinkSync(outside, lnk));
  if (kind(d) === 'dir' && !existsSync(join(d, 'f-0'))) {
    mkdirSync(join(d, 'sub'), { recursive: true });
    for (let i = 0; i < count; i++) {
      writeFileSync(join(d, `f-${i}`), 'inside');
      if (i % 4 === 0) writeFileSync(join(d, 'sub', `f-${i}`), 'inside');
    }
  }
}

let cycles = 0;
for (;;) {
  if (cycles % 50 === 0) {
    if (existsSync(stopFile)) break;
    attempt(repair);
  }
  attempt(() => renameSync(d, hold));
  attempt(() => renameSync(lnk, d));
  attempt(() => renameSync(d, lnk));
  attempt(() => renameSync(hold, d));
  cycles++;
}
attempt(repair);
attempt(repair);
process.stdout.write(`${cycles}\n`);
