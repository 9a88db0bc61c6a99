import { describeJobSourceCompliance, MemoryJobSource } from '@socketserver/testing'

describeJobSourceCompliance('MemoryJobSource', async () => {
  const source = await MemoryJobSource.start({ name: 'compliance' })
  return {
    source,
    enqueue: async (data, options) => source.enqueue(data, options),
    job: async (id) => {
      const job = source.job(id)
      if (job === undefined) throw new Error(`Cannot find job ${id}`)
      return job
    },
  }
})
