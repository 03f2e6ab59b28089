// Accounts through the `nats` npm client (run by tests/accounts_clients.rs against the
// tests/configs/accounts/main.conf fixture): a responder in account A, a requester in account B
// that reaches it through B's service import, isolation of a plain subject between the two, and
// the no-responders error through an import with nobody behind it.
//
// Prints one line per finding ("reply: ...", "isolated", "no-responders: 503", "done") and exits
// 0; any failure prints "FAIL: ..." and exits 1. Every wait is bounded.

const { connect, StringCodec, ErrorCode } = require('nats');

const url = process.env.NATS_URL || 'nats://127.0.0.1:4222';
const sc = StringCodec();

function fail(what) {
  console.log(`FAIL: ${what}`);
  process.exit(1);
}

async function main() {
  const a = await connect({ servers: url, user: 'a', pass: 'a', reconnect: false });
  const b = await connect({ servers: url, user: 'b', pass: 'b', reconnect: false });

  // Responder in A on the exported subject.
  const svc = a.subscribe('svc.js');
  (async () => {
    for await (const m of svc) {
      m.respond(sc.encode(`echo:${sc.decode(m.data)}`));
    }
  })();
  await a.flush();

  const reply = await b.request('svc.js', sc.encode('ping'), { timeout: 3000 });
  console.log(`reply: ${sc.decode(reply.data)}`);

  // A plain subject is private to each account.
  const seenInB = b.subscribe('iso.js', { timeout: 500 });
  await b.flush();
  a.publish('iso.js', sc.encode('from-a'));
  await a.flush();
  try {
    for await (const m of seenInB) {
      fail(`B saw A's message ${sc.decode(m.data)}`);
    }
  } catch (err) {
    if (err.code !== ErrorCode.Timeout) throw err;
  }
  console.log('isolated');

  // Imported from A, but nobody in A listens on none.js.
  try {
    await b.request('none.js', sc.encode('x'), { timeout: 3000 });
    fail('a reply from nobody');
  } catch (err) {
    if (err.code !== ErrorCode.NoResponders) fail(`expected no responders, got ${err.code}`);
    console.log('no-responders: 503');
  }

  await a.close();
  await b.close();
  console.log('done');
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
