// Beside seed 003's work queue, two more nats.js (nats npm v2) JetStream consumers on a limits
// stream EVENTS: an ordered consumer (`js.consumers.get(stream)`: ephemeral, recreated on a gap)
// and a legacy push subscription on a durable with a deliver inbox and explicit acks. Prints
// what each got and exits 0, or prints the error and exits 1.

const { connect, consumerOpts, createInbox, StringCodec } = require('nats');

async function main() {
  const nc = await connect({ servers: process.env.NATS_URL || 'nats://localhost:4222' });
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const sc = StringCodec();
  await jsm.streams.add({ name: 'EVENTS', subjects: ['events.>'] });
  for (let i = 1; i <= 5; i++) {
    await js.publish(`events.e${i}`, sc.encode(`e${i}`));
  }

  const ordered = await js.consumers.get('EVENTS');
  const got = [];
  const iter = await ordered.fetch({ max_messages: 5, expires: 5000 });
  for await (const m of iter) {
    got.push(`${sc.decode(m.data)}@${m.info.streamSequence}/${m.info.deliverySequence}`);
  }
  console.log(`ordered: ${got.join(',')}`);

  const opts = consumerOpts();
  opts.durable('pusher');
  opts.deliverTo(createInbox());
  opts.ackExplicit();
  const sub = await js.subscribe('events.>', opts);
  const pushed = [];
  for await (const m of sub) {
    pushed.push(sc.decode(m.data));
    m.ack();
    if (pushed.length === 5) break;
  }
  console.log(`push: ${pushed.join(',')}`);
  const info = await jsm.consumers.info('EVENTS', 'pusher');
  console.log(`push info: delivered ${info.delivered.stream_seq}, pending ${info.num_pending}`);
  await nc.drain();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
