import base from './jest.config.js';

/**
 * The unit tier (`npm run test:unit`): pure code only, no PostgreSQL, MariaDB or Redis, in
 * seconds. Specs next to their sources (`src/**\/*.spec.ts`) and the pure ones under `test/unit`.
 * Compiled without type checking (`npm run typecheck` does that); `npm test` runs these too.
 */
export default {
  ...base,
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/unit/**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', isolatedModules: true }] },
  testTimeout: 20_000,
};
