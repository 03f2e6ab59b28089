// Seed 003, "How to Implement Queue Groups in NATS", section "Combining Queue Groups with
// Regular Subscribers": the article's code, unchanged. Publishes order-1..order-4, waits 2 s,
// drains, exits.

const { connect, StringCodec } = require('nats');

async function setup() {
  const nc = await connect({
    servers: process.env.NATS_URL || 'nats://localhost:4222',
  });

  const sc = StringCodec();

  // Regular subscriber - receives ALL messages (for logging/monitoring)
  const auditSub = nc.subscribe('orders');
  (async () => {
    for await (const msg of auditSub) {
      const order = JSON.parse(sc.decode(msg.data));
      console.log(`[AUDIT] Order received: ${order.id}`);
      // Log to audit system, send to analytics, etc.
    }
  })();

  // Queue group subscriber 1 - processes orders (load balanced)
  const worker1Sub = nc.subscribe('orders', { queue: 'processors' });
  (async () => {
    for await (const msg of worker1Sub) {
      const order = JSON.parse(sc.decode(msg.data));
      console.log(`[WORKER-1] Processing order: ${order.id}`);
      await processOrder(order);
    }
  })();

  // Queue group subscriber 2 - also processes orders (load balanced with worker 1)
  const worker2Sub = nc.subscribe('orders', { queue: 'processors' });
  (async () => {
    for await (const msg of worker2Sub) {
      const order = JSON.parse(sc.decode(msg.data));
      console.log(`[WORKER-2] Processing order: ${order.id}`);
      await processOrder(order);
    }
  })();

  // Publish test orders
  for (let i = 1; i <= 4; i++) {
    nc.publish('orders', Buffer.from(JSON.stringify({
      id: `order-${i}`,
      items: ['item-a', 'item-b'],
      total: i * 25.50,
    })));
  }

  // Wait for messages to be processed
  await new Promise(resolve => setTimeout(resolve, 2000));
  await nc.drain();
}

async function processOrder(order) {
  await new Promise(resolve => setTimeout(resolve, 100));
  return order;
}

setup().catch(console.error);
