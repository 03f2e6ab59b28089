// A nats.js v3 KV bucket with limit markers (@nats-io/kv `markerTTL`): a key that outlives
// the bucket's ttl is replaced by the server's MaxAge marker, which a watcher and get() see as
// a PURGE, and the marker itself goes after markerTTL. Prints one line per step; any failure
// exits 1. NATS_URL names the server.
const { connect } = require('@nats-io/transport-node');
const { Kvm } = require('@nats-io/kv');

function fail(msg) {
  console.error(`FAIL ${msg}`);
  process.exit(1);
}

async function main() {
  const nc = await connect({ servers: process.env.NATS_URL });
  const kvm = new Kvm(nc);
  const kv = await kvm.create('MK', { ttl: 1000, markerTTL: 1000 });
  const st = await kv.status();
  if (st.markerTTL !== 1000) fail(`markerTTL ${st.markerTTL}`);
  console.log('bucket with markers');
  const rev = await kv.put('a', 'one');
  const w = await kv.watch({ key: 'a' });
  const ops = [];
  for await (const e of w) {
    ops.push(`${e.operation}@${e.revision}`);
    if (ops.length === 2) break;
  }
  if (ops.join(',') !== `PUT@${rev},PURGE@${rev + 1}`) fail(`watch saw ${ops}`);
  console.log('watch saw the marker as a purge');
  const e = await kv.get('a');
  if (!e || e.operation !== 'PURGE' || e.revision !== rev + 1 || e.length !== 0) {
    fail(`get after expiry ${e && e.operation} ${e && e.revision}`);
  }
  console.log('get sees the purge');
  const deadline = Date.now() + 10000;
  for (;;) {
    const s = await kv.status();
    if (s.values === 0) break;
    if (Date.now() > deadline) fail(`marker still there: ${s.values} values`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if ((await kv.get('a')) !== null) fail('a key after its marker expired');
  console.log('the marker expired');
  await nc.close();
}

main().catch((e) => fail(e && e.stack ? e.stack : e));
