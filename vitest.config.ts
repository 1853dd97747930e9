import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'plugins/**/*.test.ts', 'scripts/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'docker',
          include: ['test/**/*.docker.test.ts'],
          globalSetup: ['test/setup/docker.global.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          // One engine, two cores: integration files run one at a time, in one process.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        // One suite, two runtimes: the Docker suites again, through a host agent over HTTP.
        test: {
          name: 'remote',
          include: [
            'test/api.docker.test.ts',
            'test/lifecycle.docker.test.ts',
            'test/docker-runtime.docker.test.ts',
            'test/limits.docker.test.ts',
            'test/network.docker.test.ts',
            'test/file-escape.docker.test.ts',
            'test/list-files.docker.test.ts',
            'test/helper-execs.docker.test.ts',
            'test/transcripts.docker.test.ts',
            'test/checkpoint-runtime.docker.test.ts',
            'test/watch.docker.test.ts',
            'test/**/*.remote.test.ts',
          ],
          env: { TEST_RUNTIME: 'remote' },
          globalSetup: ['test/setup/docker.global.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        // The suites that run commands, move files, open terminals and watch again, with the
        // in-worker daemon forced off: the Engine's path (docker exec, the archive API) stays
        // whole for images without the daemon and for a daemon that died.
        test: {
          name: 'fallback',
          include: [
            'test/api.docker.test.ts',
            'test/lifecycle.docker.test.ts',
            'test/docker-runtime.docker.test.ts',
            'test/limits.docker.test.ts',
            'test/file-escape.docker.test.ts',
            'test/list-files.docker.test.ts',
            'test/helper-execs.docker.test.ts',
            'test/terminal.docker.test.ts',
            'test/watch.docker.test.ts',
            'test/flow.redis.test.ts',
            'test/effects.redis.test.ts',
            'test/watch.redis.test.ts',
          ],
          env: { WORKER_DAEMON: 'off' },
          globalSetup: ['test/setup/redis.global.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          name: 'redis',
          include: ['test/**/*.redis.test.ts'],
          globalSetup: ['test/setup/redis.global.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
})
