// Seed 003, "How to Implement Queue Groups in NATS", section "4. Use Wildcard Subjects for
// Flexibility". The article's snippet is bare statements over a connection `nc` and a payload
// `orderData` that it does not define, so its two halves are wrapped, unchanged, in functions
// that take them; the only addition is `return`, so that a driver can read the subscription.
// driver_wildcard.js runs them.

function subscribeOrderHandlers(nc) {
  // Subscribe to all order events in a queue group
  return nc.subscribe('orders.>', { queue: 'order-handlers' });
}

function publishOrderEvents(nc, orderData) {
  // Publish specific events - all go to the same queue group
  nc.publish('orders.created', orderData);
  nc.publish('orders.updated', orderData);
  nc.publish('orders.shipped', orderData);
}

module.exports = { subscribeOrderHandlers, publishOrderEvents };
