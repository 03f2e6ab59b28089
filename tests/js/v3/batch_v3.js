// Atomic batch publish through nats.js v3 (@nats-io/jetstream's js.startBatch): a batch of
// five (first acked, two added without ack, one with, then the commit) acked once with its
// count; then a batch the stream's discard-new limit refuses at the commit, which stores
// nothing. Prints one line per step; any failure exits 1. NATS_URL names the server.
const { connect } = require('@nats-io/transport-node');
const { jetstream, jetstreamManager } = require('@nats-io/jetstream');

function fail(msg) {
  console.error(`FAIL ${msg}`);
  process.exit(1);
}

async function main() {
  const nc = await connect({ servers: process.env.NATS_URL });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'B3', subjects: ['b3.>'], allow_atomic: true });
  const js = jetstream(nc);

  const b = await js.startBatch('b3.a', 'm1');
  b.add('b3.a', 'm2');
  b.add('b3.b', 'm3');
  await b.add('b3.b', 'm4', { ack: true });
  const ack = await b.commit('b3.c', 'm5');
  if (ack.stream !== 'B3' || ack.seq !== 5 || ack.count !== 5 || ack.batch !== b.id) {
    fail(`commit ack ${JSON.stringify(ack)}`);
  }
  const si = await jsm.streams.info('B3');
  if (si.state.messages !== 5) fail(`stored ${si.state.messages}`);
  const m = await jsm.streams.getMessage('B3', { seq: 5 });
  if (m.header.get('Nats-Batch-Commit') !== '1' || m.string() !== 'm5') fail('commit message');
  console.log('batch of 5 acked once');

  await jsm.streams.add({
    name: 'L3', subjects: ['l3.>'], allow_atomic: true, max_msgs: 2, discard: 'new',
  });
  const l = await js.startBatch('l3.a', 'x');
  l.add('l3.a', 'y');
  // nats.js 3.4 reads the error ack as an ack without the count and throws that.
  let refused = '';
  try {
    await l.commit('l3.a', 'z');
  } catch (err) {
    refused = String(err.message);
  }
  if (refused === '') fail('a batch over the limit was acked');
  const li = await jsm.streams.info('L3');
  if (li.state.messages !== 0) fail(`partly stored: ${li.state.messages}`);
  console.log('refused batch stored nothing');
  await nc.close();
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
