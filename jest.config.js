/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // The integration spec runs the compiled demo in a child process.
  globalSetup: '<rootDir>/spec/support/build.js',
  testTimeout: 20000,
  // The package by its own name (demo/, docs): its sources, as tsconfig.json's paths say.
  moduleNameMapper: { '^rxjs-listen$': '<rootDir>/src/index.ts', '^rxjs-listen/([a-z]+)$': '<rootDir>/src/$1/index.ts' },
};
