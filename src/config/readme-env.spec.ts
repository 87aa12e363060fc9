import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ENV_VARIABLES } from './env-variables.js';
import { envTableMarkdown, readmeEnvTable } from './readme-env.js';

describe("the README's environment table", () => {
  it('is the one generated from the variable table (run `npm run docs:env` after changing it)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readmeEnvTable(readme)).toBe(envTableMarkdown());
  });

  it('names every variable once, each with a meaning', () => {
    const names = ENV_VARIABLES.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    expect(ENV_VARIABLES.filter((v) => !v.description)).toEqual([]);
  });
});
