// Driver for wildcard_subjects.js. `node driver_wildcard.js member <id>` joins the
// 'order-handlers' group on 'orders.>' and prints every event it is given until killed.
// `node driver_wildcard.js publish <id>` runs the snippet as the article writes it, on one
// connection (subscribe, then publish the three events), and then handles like a member.
const { connect, StringCodec } = require('nats');
const { subscribeOrderHandlers, publishOrderEvents } = require('./wildcard_subjects');

async function main() {
  const mode = process.argv[2];
  const id = process.argv[3] || '1';
  const nc = await connect({
    servers: process.env.NATS_URL || 'nats://localhost:4222',
  });
  const sc = StringCodec();

  const sub = subscribeOrderHandlers(nc);
  // The PONG says the server has the subscription before we report it.
  await nc.flush();
  console.log(`Handler ${id} subscribed to 'orders.>' in queue group 'order-handlers'`);

  if (mode === 'publish') {
    const orderData = sc.encode(JSON.stringify({ id: 'order-42', total: 51 }));
    publishOrderEvents(nc, orderData);
    await nc.flush();
    console.log(`Handler ${id} published 3 order events`);
  }

  for await (const msg of sub) {
    console.log(`Handler ${id} handled ${msg.subject}: ${sc.decode(msg.data)}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
