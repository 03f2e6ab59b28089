// Seed 003, "How to Implement Queue Groups in NATS", section "Node.js Implementation /
// Publisher": the article's code, unchanged. Publishes task-1..task-10 on `tasks`, drains, exits.

const { connect } = require('nats');

async function createPublisher() {
  // Connect to NATS server - defaults to localhost:4222
  const nc = await connect({
    servers: process.env.NATS_URL || 'nats://localhost:4222',
  });

  console.log('Publisher connected to NATS');

  // Publish messages to a subject
  // Queue group routing happens on the subscriber side
  async function publishTask(task) {
    // Encode the message as JSON
    const data = JSON.stringify(task);

    // Publish to the 'tasks' subject
    // Any queue group subscribed to 'tasks' will receive this
    nc.publish('tasks', Buffer.from(data));

    console.log(`Published task: ${task.id}`);
  }

  // Example: publish multiple tasks
  for (let i = 1; i <= 10; i++) {
    await publishTask({
      id: `task-${i}`,
      type: 'process-order',
      payload: { orderId: i, amount: Math.random() * 100 },
      timestamp: new Date().toISOString(),
    });
  }

  // Graceful shutdown
  await nc.drain();
  console.log('Publisher disconnected');
}

createPublisher().catch(console.error);
