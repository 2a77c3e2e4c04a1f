/**
 * Unit tests of the panel's pure helpers (src/__tests__/*.spec.ts): TypeScript through ts-jest, in Node (they touch
 * no DOM). `jlpm test` runs them; `make test` runs that. `jlpm typecheck` checks the tests' types.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.spec.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  }
};
