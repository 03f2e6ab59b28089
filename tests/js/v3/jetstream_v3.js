// JetStream through the current nats.js v3 packages (@nats-io/transport-node, @nats-io/jetstream,
// @nats-io/kv): a stream, a durable pull consumer read with fetch() and consume() (which asks
// for idle heartbeats on every pull), a nak redelivered with its count raised, and a KV bucket.
// Prints one line per step; any failure exits 1. NATS_URL names the server.
const { connect } = require('@nats-io/transport-node');
const { jetstream, jetstreamManager, AckPolicy } = require('@nats-io/jetstream');
const { Kvm } = require('@nats-io/kv');

function fail(msg) {
  console.error(`FAIL ${msg}`);
  process.exit(1);
}

async function main() {
  const nc = await connect({ servers: process.env.NATS_URL });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'V3', subjects: ['v3.>'] });
  const js = jetstream(nc);
  for (let i = 1; i <= 20; i++) {
    const ack = await js.publish('v3.task', `t${i}`);
    if (ack.seq !== i) fail(`publish ${i} got seq ${ack.seq}`);
  }
  console.log('published 20');
  await jsm.consumers.add('V3', { durable_name: 'w', ack_policy: AckPolicy.Explicit, ack_wait: 2_000_000_000 });
  const c = await js.consumers.get('V3', 'w');
  const batch = await c.fetch({ max_messages: 10, expires: 2000 });
  const seen = [];
  for await (const m of batch) {
    seen.push(m.seq);
    m.ack();
  }
  if (seen.join(',') !== '1,2,3,4,5,6,7,8,9,10') fail(`fetch got ${seen}`);
  console.log('fetched 10');
  const rest = [];
  let naked = false;
  const messages = await c.consume({ max_messages: 5, expires: 2000 });
  for await (const m of messages) {
    if (m.seq === 11 && !naked) {
      naked = true;
      m.nak();
      continue;
    }
    if (m.seq === 11 && m.info.deliveryCount !== 2) fail(`redelivery count ${m.info.deliveryCount}`);
    rest.push(m.seq);
    m.ack();
    if (rest.length === 10) break;
  }
  rest.sort((a, b) => a - b);
  if (rest.join(',') !== '11,12,13,14,15,16,17,18,19,20') fail(`consume got ${rest}`);
  console.log('consumed 10 with one nak redelivered');
  const info = await c.info();
  if (info.num_ack_pending !== 0 || info.num_pending !== 0) fail(`info ${JSON.stringify(info)}`);
  console.log('consumer drained');
  const kvm = new Kvm(nc);
  const kv = await kvm.create('V3KV', { history: 2 });
  await kv.put('a', 'one');
  const r = await kv.put('a', 'two');
  const e = await kv.get('a');
  if (e.string() !== 'two' || e.revision !== r) fail(`kv get ${e.string()} ${e.revision}`);
  console.log('kv ok');
  await nc.drain();
}

main().catch((e) => fail(e.stack || String(e)));
