import { defineConfig } from 'vitest/config'

// Tests run against each package's TypeScript sources through the
// "socketserver-source" export condition, so no build is needed to test a
// change. (Child processes started by tests, such as the CLI, run the built
// dist/ instead: `pnpm test` builds first.)
// (Vite adds "import" and "default" by itself; given here, they would also
// reach Node's own resolution, as --conditions, and a CommonJS package's
// require() of a dual package, pg requiring pg-pool, would get the ES module.)
const conditions = ['socketserver-source', 'node']

// Tests that load the whole machine (soak and bench runs; the jobs tests'
// PostgreSQL server and worker processes): see the "heavy" project below.
const HEAVY = [
  'tests/stress.test.ts',
  'tests/stress-jobs.test.ts',
  'tests/bench-jobs.test.ts',
  'tests/bench-rpc.test.ts',
  'packages/jobs/test/integration/**/*.test.ts',
  'packages/cli/test/integration/jobs.test.ts',
]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/unit/**/*.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['packages/*/test/integration/**/*.test.ts', 'examples/**/*.test.ts', 'tests/**/*.test.ts'],
          exclude: HEAVY,
          testTimeout: 20_000,
          hookTimeout: 20_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        // The soak and bench runs keep every CPU busy for tens of seconds:
        // after the rest, one at a time, so that their load never stretches
        // another test's deadline (rolling restarts of --processes timed
        // out twice beside them).
        extends: true,
        test: {
          name: 'heavy',
          include: HEAVY,
          testTimeout: 20_000,
          hookTimeout: 20_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
