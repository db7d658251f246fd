/** Unit tests sit beside the code; integration tests that start real processes live in test/. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/shared', '<rootDir>/dataplane', '<rootDir>/operator', '<rootDir>/hack', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // jose ships ES modules only; Node 20.19+ loads them through require(), Jest's module system
  // does not, so swc turns them into CommonJS for the tests.
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }],
    '^.+/node_modules/jose/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  testTimeout: 60000,
  // Says once which test groups this machine cannot run (promtool, redis-server, kube binaries) and how to enable them.
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
};
