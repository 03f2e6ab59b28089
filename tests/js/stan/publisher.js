// Seed 000's publisher (node-nats-streaming 0.3.x): connects as client 'abc' and publishes
// ticket:created events as JSON, logging each PubAck, then closes.
//
// Usage: node stan/publisher.js [count] [first]   (default 1 event, numbered from 1)
// Environment: NATS_URL, STAN_CLUSTER_ID (default test-cluster).
'use strict'

const nats = require('node-nats-streaming')

const url = process.env.NATS_URL || 'nats://localhost:4222'
const clusterId = process.env.STAN_CLUSTER_ID || 'test-cluster'
const count = Number(process.argv[2] || 1)
const first = Number(process.argv[3] || 1)

const stan = nats.connect(clusterId, 'abc', { url })

stan.on('error', (err) => {
  console.log(`Publisher error: ${err && err.message ? err.message : err}`)
  process.exit(1)
})

stan.on('connect', () => {
  console.log('Publisher connected to NATS')
  let acked = 0
  let failed = false
  stan.on('close', () => {
    console.log('Publisher closed')
    process.exit(failed ? 1 : 0)
  })

  for (let n = first; n < first + count; n++) {
    const data = JSON.stringify({ id: `ticket-${n}`, title: 'concert', price: 20 })
    stan.publish('ticket:created', data, (err, guid) => {
      if (err) {
        failed = true
        console.log(`Publish of ticket-${n} failed: ${err.message || err}`)
      } else {
        console.log(`Event published: ticket-${n} (guid ${guid})`)
      }
      acked++
      if (acked === count) {
        stan.close()
      }
    })
  }
})
