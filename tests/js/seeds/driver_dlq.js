// Driver for worker_retry.js: prints every message the retrying workers send to their
// dead-letter subject 'tasks.dlq', until killed.
const { connect, StringCodec } = require('nats');

async function main() {
  const nc = await connect({
    servers: process.env.NATS_URL || 'nats://localhost:4222',
  });
  const sc = StringCodec();

  const sub = nc.subscribe('tasks.dlq');
  // The PONG says the server has the subscription before we report it.
  await nc.flush();
  console.log("DLQ listener subscribed to 'tasks.dlq'");

  for await (const msg of sub) {
    console.log(`DLQ: ${sc.decode(msg.data)}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
