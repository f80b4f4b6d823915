/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // The integration spec runs the compiled demo in a child process.
  globalSetup: '<rootDir>/spec/support/build.js',
  testTimeout: 20000,
};
