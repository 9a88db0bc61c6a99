// The private PostgreSQL server of the testing kit: started from nothing,
// reached over its Unix socket only, restarted, and gone at the end.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { processAlive, startPostgres, until } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

describe('startPostgres()', () => {
  test('starts a server on a Unix socket of its own, which survives a restart with its data, and stops without a trace', async () => {
    const db = await startPostgres()
    expect(db.url).toBe(`postgresql://postgres@/postgres?host=${encodeURIComponent(db.dir)}&port=5432`)
    expect(existsSync(`${db.socketDir}/.s.PGSQL.5432`)).toBe(true)
    expect((await db.psql('select 1 + 1')).trim()).toBe('2')
    await db.psql('create table jobs (id bigserial primary key, data text not null)')
    await db.psql("insert into jobs (data) values ('a'), ('b')")
    // No TCP: the server listens on its socket only.
    expect((await db.psql('show listen_addresses')).trim()).toBe('')
    await db.restart()
    expect((await db.psql('select count(*) from jobs')).trim()).toBe('2')
    const pid = Number((await db.psql('select pg_backend_pid()')).trim())
    expect(pid).toBeGreaterThan(0)
    await db.stop()
    expect(existsSync(db.dir)).toBe(false)
    expect(processAlive(pid)).toBe(false)
    await db.stop() // idempotent
  }, 60_000)

  test('two servers at once do not meet', async () => {
    const [a, b] = await Promise.all([startPostgres(), startPostgres()])
    await a.psql('create table only_in_a (x int)')
    await expect(b.psql('select * from only_in_a')).rejects.toThrow(/does not exist/)
    await Promise.all([a.stop(), b.stop()])
  }, 60_000)

  test('a server whose starter is killed (no stop(), no clean-up) is stopped and removed by its watchdog', async () => {
    const starter = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const { startPostgres } = await import('@socketserver/testing'); const db = await startPostgres(); console.log(db.dir); setInterval(() => {}, 1000)",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    const dir = await new Promise<string>((resolve, reject) => {
      createInterface({ input: starter.stdout }).once('line', resolve)
      starter.once('exit', (code) => reject(new Error(`the starter exited with ${code}`)))
    })
    const postmaster = Number(readFileSync(`${dir}/data/postmaster.pid`, 'utf8').split('\n')[0])
    expect(processAlive(postmaster)).toBe(true)
    starter.kill('SIGKILL')
    await until(() => !processAlive(postmaster) && !existsSync(dir), 30_000, 'the server to stop and its directory to go')
  }, 60_000)
})
