// Runs a built entrypoint under umask 000 (no shell): node umask-zero.mjs <entry.js>
process.umask(0);
const entry = process.argv[2];
process.argv.splice(2, 1);
await import(new URL(entry, `file://${process.cwd()}/`).href);
