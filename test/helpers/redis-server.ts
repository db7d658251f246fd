/** The real redis-server for tests; it lives in hack/ so the benchmark harness can start one too. */
export { freePort, startRedisServer, type RedisServer, type RedisServerOptions } from '../../hack/redis-server';
