// Seed 000's listener (node-nats-streaming 0.3.x): a member of the durable queue group
// 'orders-service-queue-group' on channel 'ticket:created', with setManualAckMode(true),
// setAckWait(...), setDeliverAllAvailable() and setDurableName('orders-service'). It acks each
// event after handling it, and on SIGINT/SIGTERM it tells the server it is leaving before it
// stops (the seed's fix for the restart delay): stan.close(), or with LISTENER_LEAVE=unsubscribe
// subscription.unsubscribe() first (the durable position is forgotten).
//
// Usage: node stan/listener.js [clientId]   (a random client id when none is given)
// Environment: NATS_URL, STAN_CLUSTER_ID (default test-cluster); the test's knobs:
//   LISTENER_ACK_WAIT_MS  setAckWait (default 30000, the seed's 30 s)
//   LISTENER_FAIL=1       the handler fails (say the database is down) and never acks
//   LISTENER_LEAVE        'close' (default) or 'unsubscribe'
'use strict'

const nats = require('node-nats-streaming')
const { randomBytes } = require('crypto')

const url = process.env.NATS_URL || 'nats://localhost:4222'
const clusterId = process.env.STAN_CLUSTER_ID || 'test-cluster'
const clientId = process.argv[2] || randomBytes(4).toString('hex')
const ackWaitMs = Number(process.env.LISTENER_ACK_WAIT_MS || 30000)
const failing = process.env.LISTENER_FAIL === '1'
const leave = process.env.LISTENER_LEAVE || 'close'

const stan = nats.connect(clusterId, clientId, { url })
let subscription = null

stan.on('error', (err) => {
  console.log(`Listener ${clientId} error: ${err && err.message ? err.message : err}`)
  process.exit(1)
})

stan.on('connect', () => {
  console.log(`Listener ${clientId} connected to NATS`)

  stan.on('close', () => {
    console.log(`Listener ${clientId}: NATS connection closed!`)
    process.exit()
  })

  const options = stan
    .subscriptionOptions()
    .setManualAckMode(true)
    .setAckWait(ackWaitMs)
    .setDeliverAllAvailable()
    .setDurableName('orders-service')

  subscription = stan.subscribe('ticket:created', 'orders-service-queue-group', options)

  subscription.on('ready', () => {
    console.log(`Listener ${clientId} subscribed to 'ticket:created'`)
  })
  subscription.on('error', (err) => {
    console.log(`Listener ${clientId} subscription error: ${err && err.message ? err.message : err}`)
  })
  subscription.on('unsubscribed', () => {
    console.log(`Listener ${clientId} unsubscribed`)
    stan.close()
  })

  subscription.on('message', (msg) => {
    const seq = msg.getSequence()
    const again = msg.isRedelivered() ? ` (redelivered ${msg.getRedeliveryCount()})` : ''
    console.log(`Listener ${clientId} received event #${seq}${again}: ${msg.getData()}`)
    if (failing) {
      console.log(`Listener ${clientId} could not process event #${seq}, no ack`)
      return
    }
    msg.ack()
    console.log(`Listener ${clientId} acked event #${seq}`)
  })
})

function stop () {
  if (leave === 'unsubscribe' && subscription !== null) {
    subscription.unsubscribe()
  } else {
    stan.close()
  }
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
