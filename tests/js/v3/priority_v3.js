// Consumer priority groups through nats.js v3 (@nats-io/jetstream): a pinned_client consumer
// read with consume({group}) (every message carries the pin the server reports in the
// consumer info), overflow fetches with min_pending, prioritized fetches (the lower priority
// is served first) and jsm.consumers.unpin(). Prints one line per step; any failure exits 1.
// NATS_URL names the server.
const { connect } = require('@nats-io/transport-node');
const { jetstream, jetstreamManager, AckPolicy, DeliverPolicy } = require('@nats-io/jetstream');

function fail(msg) {
  console.error(`FAIL ${msg}`);
  process.exit(1);
}

async function drain(iter) {
  const out = [];
  for await (const m of iter) {
    out.push(m);
    m.ack();
  }
  return out;
}

async function main() {
  const nc = await connect({ servers: process.env.NATS_URL });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'P3', subjects: ['p3.>'] });
  const js = jetstream(nc);
  for (let i = 1; i <= 5; i++) await js.publish('p3.a', `m${i}`);
  const group = { priority_groups: ['g'], ack_policy: AckPolicy.Explicit };

  await jsm.consumers.add('P3', { durable_name: 'pin', priority_policy: 'pinned_client', ...group });
  const pc = await js.consumers.get('P3', 'pin');
  const messages = await pc.consume({ group: 'g', max_messages: 5, expires: 2000 });
  const pins = [];
  for await (const m of messages) {
    pins.push(m.headers?.get('Nats-Pin-Id') ?? '');
    m.ack();
    if (pins.length === 5) break;
  }
  const info = await pc.info();
  const pinned = info.priority_groups?.[0]?.pinned_client_id;
  if (!pinned || pins.some((p) => p !== pinned)) fail(`pins ${pins} vs info ${pinned}`);
  console.log('pinned 5');
  await jsm.consumers.unpin('P3', 'pin', 'g');
  const after = await pc.info();
  if (after.priority_groups?.[0]?.pinned_client_id) fail(`still pinned ${JSON.stringify(after)}`);
  console.log('unpinned');

  await jsm.consumers.add('P3', { durable_name: 'ovf', priority_policy: 'overflow', ...group });
  const oc = await js.consumers.get('P3', 'ovf');
  const none = await drain(await oc.fetch({ group: 'g', min_pending: 100, max_messages: 1, expires: 1000 }));
  if (none.length !== 0) fail(`min_pending 100 got ${none.length}`);
  const one = await drain(await oc.fetch({ group: 'g', min_pending: 5, max_messages: 1, expires: 2000 }));
  if (one.length !== 1 || one[0].seq !== 1) fail(`min_pending 5 got ${one.map((m) => m.seq)}`);
  console.log('overflow ok');

  await jsm.consumers.add('P3', {
    durable_name: 'prio', priority_policy: 'prioritized', deliver_policy: DeliverPolicy.New, ...group,
  });
  const qc = await js.consumers.get('P3', 'prio');
  const low = await qc.fetch({ group: 'g', priority: 5, max_messages: 1, expires: 4000 });
  const high = await qc.fetch({ group: 'g', priority: 1, max_messages: 1, expires: 4000 });
  // nats.js sends a fetch's pull request once it is iterated.
  const highDone = drain(high);
  const lowDone = drain(low);
  // Both requests are queued (the consumer reports them) before anything is published.
  for (let i = 0; (await qc.info()).num_waiting < 2; i++) {
    if (i > 100) fail('pull requests not queued');
  }
  await js.publish('p3.a', 'first');
  const gotHigh = await highDone;
  await js.publish('p3.a', 'second');
  const gotLow = await lowDone;
  if (gotHigh.map((m) => m.string()).join() !== 'first') fail(`priority 1 got ${gotHigh.map((m) => m.string())}`);
  if (gotLow.map((m) => m.string()).join() !== 'second') fail(`priority 5 got ${gotLow.map((m) => m.string())}`);
  console.log('prioritized ok');
  await nc.close();
}

main().catch((e) => fail(e && e.stack ? e.stack : e));
