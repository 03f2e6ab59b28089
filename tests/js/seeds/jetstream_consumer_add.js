// Seed 003's JetStream consumer (`js.consumers.get('TASKS', 'task-processors')`) expects the
// durable to exist. This is what a user of the article runs first: `jsm.consumers.add` with the
// durable name and explicit acks (the article imports AckPolicy for it). Prints one line and exits.

const { connect, AckPolicy } = require('nats');

async function main() {
  const nc = await connect({ servers: process.env.NATS_URL || 'nats://localhost:4222' });
  const jsm = await nc.jetstreamManager();
  const ackWaitMs = Number(process.env.ACK_WAIT_MS || 30000);
  const info = await jsm.consumers.add('TASKS', {
    durable_name: 'task-processors',
    ack_policy: AckPolicy.Explicit,
    ack_wait: ackWaitMs * 1e6,
  });
  console.log(`Consumer ${info.name} added, ack_wait ${info.config.ack_wait}`);
  await nc.drain();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
